//! Same prompt, same GGUF: the executor against mistral.rs 0.8.1 (token
//! ids and greedy text).

use std::path::Path;

use lookahead_engine::executor::ExecutorGenerator;
use lookahead_engine::{Sampling, StepRequest};
use mistralrs::core::Response;
use mistralrs::{
    Constraint, GgufModelBuilder, Model, NormalRequest, Request, RequestMessage, SamplingParams,
    TokenSource,
};

use crate::common::{chat, model_path, smol, QUESTION, SMOL};
use crate::generator::run;

/// mistral.rs serving one GGUF on the CPU, for reference outputs.
pub struct Reference {
    rt: tokio::runtime::Runtime,
    model: Model,
}

impl Reference {
    pub fn load(path: &Path) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = path.parent().unwrap().to_string_lossy().into_owned();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let model = rt
            .block_on(
                GgufModelBuilder::new(dir, vec![file])
                    .with_token_source(TokenSource::None)
                    .with_force_cpu()
                    .build(),
            )
            .expect("mistral.rs loads the model");
        Self { rt, model }
    }

    /// Raw completion (no chat template), greedy, exactly `max_tokens`
    /// tokens unless the model ends first.
    pub fn complete_greedy(&self, text: &str, max_tokens: usize) -> String {
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        let mut params = SamplingParams::deterministic();
        params.max_len = Some(max_tokens);
        let request = Request::Normal(Box::new(NormalRequest {
            messages: RequestMessage::Completion {
                text: text.to_string(),
                echo_prompt: false,
                best_of: None,
            },
            sampling_params: params,
            response: tx,
            return_logprobs: false,
            is_streaming: false,
            id: 0,
            constraint: Constraint::None,
            suffix: None,
            tools: None,
            tool_choice: None,
            logits_processors: None,
            return_raw_logits: false,
            web_search_options: None,
            model_id: None,
            truncate_sequence: false,
        }));
        let sender = self.model.inner().get_sender(None).unwrap();
        self.rt.block_on(async {
            sender.send(request).await.unwrap();
            match rx.recv().await {
                Some(Response::CompletionDone(done)) => done.choices[0].text.clone(),
                Some(_) => panic!("unexpected mistral.rs response"),
                None => panic!("mistral.rs closed the channel"),
            }
        })
    }

    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        self.rt
            .block_on(self.model.tokenize(
                either::Either::Right(text.to_string()),
                None,
                false,
                false,
                None,
            ))
            .unwrap()
    }
}

pub const TEXTS: [&str; 6] = [
    "Hello, world! 12345 + 678 = 13023.\n\nNext step:  two  spaces\tand a tab.",
    "Ünïcödé ✓ — “quotes”, emoji 🤖 and 中文字符.",
    "She's sold 48 clips; they'll sell 24 more. I'd say 72's the answer.",
    "   leading spaces\n\n\n\ntrailing newlines\n",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "",
];

/// How many leading tokens two token lists share, with a report line.
pub fn agreement(ours: &[u32], theirs: &[u32]) -> (usize, String) {
    let n = ours.iter().zip(theirs).take_while(|(a, b)| a == b).count();
    (
        n,
        format!("{n} of {} / {} tokens agree", ours.len(), theirs.len()),
    )
}

#[test]
#[ignore = "known failure (issue 4 left open): executor greedy text diverges from mistral.rs on SmolLM2 from the first token; see the closing note"]
fn smol_tokens_and_greedy_text_match_mistralrs() {
    let exec = smol();
    let reference = Reference::load(&model_path(SMOL));
    for text in TEXTS.iter().copied().chain([chat(QUESTION).as_str()]) {
        assert_eq!(
            exec.tokenizer().encode(text).unwrap(),
            reference.tokenize(text),
            "token ids of {text:?}"
        );
    }

    const N: usize = 48;
    let prompt = chat(QUESTION);
    let theirs = reference.complete_greedy(&prompt, N);
    let mut gen = ExecutorGenerator::new(exec.clone());
    let ours = run(
        &mut gen,
        &[StepRequest {
            text: prompt.clone(),
            max_tokens: N,
            stop_at_delimiter: false,
        }],
        &Sampling::default(),
    );
    let tok = exec.tokenizer();
    let (n, report) = agreement(
        &tok.encode(&ours[0].text).unwrap(),
        &tok.encode(&theirs).unwrap(),
    );
    eprintln!(
        "SmolLM2 greedy vs mistral.rs: {report}\n ours:   {:?}\n theirs: {theirs:?}",
        ours[0].text
    );
    assert_eq!(ours[0].text.trim_start(), theirs.trim_start(), "{report}");
    assert!(n >= ours[0].tokens.min(N) - 1);
}
