//! `ExecutorGenerator`: batched steps equal unbatched ones, prefix reuse,
//! stop reasons, cancellation, memory-budget splitting, counters.

use std::sync::Arc;

use lookahead_engine::parts::ExecutorGenerator;
use lookahead_engine::{
    CancelFlag, Context, Piece, Sampling, StepEnd, StepGenerator, StepOutput, StepRequest, TokenIds,
};
use lookahead_executor::{Executor, ExecutorOptions};

use crate::common::{chat, load, smol, QUESTION, SMOL};

pub fn requests(max_tokens: usize) -> Vec<StepRequest> {
    let base = chat(QUESTION);
    [
        base.clone(),
        format!("{base}In April, Natalia sold 48 clips.\n\n"),
        chat("Write one sentence about the sea."),
        format!("{base}In April, Natalia sold 48 clips.\n\nIn May, she sold half as many: 48 / 2 = 24 clips.\n\n"),
    ]
    .into_iter()
    .map(|text| StepRequest {
        context: text.into(),
        max_tokens,
        stop_at_delimiter: true,
        hint: None,
    })
    .collect()
}

pub fn run(
    gen: &mut dyn StepGenerator,
    reqs: &[StepRequest],
    sampling: &Sampling,
) -> Vec<StepOutput> {
    gen.continue_steps(reqs, sampling, &CancelFlag::new(), &mut |_, _| {})
        .expect("continue_steps")
}

fn summary(out: &[StepOutput]) -> Vec<(String, usize, Option<StepEnd>)> {
    out.iter()
        .map(|o| (o.text.clone(), o.tokens, o.end))
        .collect()
}

fn one_by_one(exec: Arc<Executor>, reqs: &[StepRequest], sampling: &Sampling) -> Vec<StepOutput> {
    let mut gen = ExecutorGenerator::new(exec);
    reqs.iter()
        .flat_map(|r| run(&mut gen, std::slice::from_ref(r), sampling))
        .collect()
}

#[test]
fn batched_steps_equal_one_by_one_greedy_and_sampled() {
    let reqs = requests(40);
    for sampling in [
        Sampling::default(),
        Sampling {
            temperature: 0.8,
            top_p: 0.9,
            seed: 7,
        },
    ] {
        let mut gen = ExecutorGenerator::new(smol());
        let together = run(&mut gen, &reqs, &sampling);
        let stats = gen.take_stats();
        let alone = one_by_one(smol(), &reqs, &sampling);
        assert_eq!(summary(&together), summary(&alone), "{sampling:?}");
        let longest = together.iter().map(|o| o.tokens).max().unwrap();
        assert!(
            stats.forward_passes <= longest + reqs.len(),
            "one pass per token for the whole batch: {} passes for {longest} tokens",
            stats.forward_passes
        );
        assert!(stats.batched_sequences > stats.forward_passes);
        assert_eq!(
            stats.generated_tokens,
            together.iter().map(|o| o.tokens).sum::<usize>()
        );
        for o in &together {
            assert!(o.tokens > 0 && !o.text.is_empty());
        }
    }
}

#[test]
fn sampling_depends_on_the_seed() {
    let exec = smol();
    let mut gen = ExecutorGenerator::new(exec);
    let reqs = requests(24)[2..3].to_vec();
    let s = |seed| Sampling {
        temperature: 1.0,
        top_p: 0.95,
        seed,
    };
    let a = run(&mut gen, &reqs, &s(1));
    let b = run(&mut gen, &reqs, &s(1));
    let c = run(&mut gen, &reqs, &s(2));
    assert_eq!(a[0].text, b[0].text, "same seed, same text");
    assert_ne!(a[0].text, c[0].text, "another seed, another text");
}

#[test]
fn a_continuation_reuses_the_cached_prefix() {
    let exec = smol();
    let mut gen = ExecutorGenerator::new(exec.clone());
    let first = run(&mut gen, &requests(40)[..1], &Sampling::default());
    let prompt_tokens = exec.tokenizer().encode(&chat(QUESTION)).unwrap().len();
    assert_eq!(first[0].prefill_tokens, prompt_tokens);
    let next = StepRequest {
        context: format!("{}{}", chat(QUESTION), first[0].text).into(),
        max_tokens: 40,
        stop_at_delimiter: true,
        hint: None,
    };
    let second = run(&mut gen, std::slice::from_ref(&next), &Sampling::default());
    assert!(
        second[0].prefill_tokens <= 3,
        "only the re-tokenized boundary is recomputed, not {} tokens",
        second[0].prefill_tokens
    );
    let fresh = one_by_one(smol(), std::slice::from_ref(&next), &Sampling::default());
    assert_eq!(summary(&second), summary(&fresh));
}

#[test]
fn a_continuation_carries_the_written_tokens_and_encodes_nothing_again() {
    let exec = smol();
    let tok = exec.tokenizer();
    let vocab = tok.vocab_id();
    let mut gen = ExecutorGenerator::new(exec.clone());
    let prompt = Piece::new(chat(QUESTION));
    let ask = |context: Context| StepRequest {
        context,
        max_tokens: 40,
        stop_at_delimiter: true,
        hint: None,
    };
    let first = run(
        &mut gen,
        &[ask(Context::from(prompt.clone()))],
        &Sampling::default(),
    );
    // The prompt was encoded once, and keeps its ids for later calls.
    let prompt_ids = prompt
        .ids_in(vocab)
        .expect("the prompt keeps its ids")
        .len();
    assert_eq!(prompt_ids + tok.lead().len(), first[0].prefill_tokens);
    // The step comes back with the ids it was written in.
    let written = first[0].ids.clone().expect("the executor gives its ids");
    assert_eq!(written.vocab, vocab);
    assert_eq!(tok.decode(&written.ids).unwrap(), first[0].text);

    // Going on from the prompt and that step: the cache holds every token
    // already, so only the last one is run again (its logits are needed).
    let next = ask(Context::from(prompt.clone()).then(first[0].piece()));
    let second = run(&mut gen, std::slice::from_ref(&next), &Sampling::default());
    assert_eq!(second[0].prefill_tokens, 1);
    let fresh = one_by_one(smol(), std::slice::from_ref(&next), &Sampling::default());
    assert_eq!(summary(&second), summary(&fresh));

    // Ids a piece carries are read as they are, never re-encoded from its
    // text: "Hello" spelt letter by letter stays five tokens.
    let letters: Vec<u32> = "Hello"
        .chars()
        .flat_map(|c| tok.encode_piece(&c.to_string()).unwrap())
        .collect();
    assert_eq!(tok.encode_piece("Hello").unwrap().len(), 1);
    let spelt = Piece::written(
        "Hello",
        TokenIds {
            vocab,
            ids: letters.clone(),
        },
    );
    let context = Context::from(prompt).then(spelt);
    assert_eq!(
        gen.count_tokens(&context).unwrap(),
        tok.lead().len() + prompt_ids + letters.len()
    );
}

#[test]
fn branches_sharing_a_prefix_are_prefilled_once() {
    let exec = smol();
    let mut gen = ExecutorGenerator::new(exec);
    let reqs = requests(8);
    let out = run(&mut gen, &reqs, &Sampling::default());
    let prompt_tokens = |i: usize| gen.count_tokens(&reqs[i].context).unwrap();
    // Requests 1 and 3 extend request 0's text (and 0 shares the system
    // prompt with 2): they wait a pass and fork the cache of the shorter
    // request instead of recomputing the shared part.
    assert!(out[0].prefill_tokens < prompt_tokens(0));
    assert!(out[1].prefill_tokens < prompt_tokens(1) - prompt_tokens(0) + 4);
    assert!(out[3].prefill_tokens < prompt_tokens(3) - prompt_tokens(1) + 4);
    let stats = gen.take_stats();
    assert_eq!(
        stats.prefill_tokens,
        out.iter().map(|o| o.prefill_tokens).sum::<usize>()
    );
}

#[test]
fn steps_end_at_delimiter_end_of_sequence_or_budget() {
    let mut gen = ExecutorGenerator::new(smol());
    let reqs = requests(40);
    let out = run(&mut gen, &reqs, &Sampling::default());
    for o in &out {
        match o.end {
            Some(StepEnd::Delimiter) => assert!(o.text.contains("\n\n"), "{:?}", o.text),
            Some(StepEnd::Budget) => assert_eq!(o.tokens, 40),
            Some(StepEnd::EndOfSequence) => assert!(!o.text.contains("<|im_end|>")),
            other => panic!("unexpected end {other:?}"),
        }
    }
    let tiny = StepRequest {
        max_tokens: 3,
        ..reqs[2].clone()
    };
    let out = run(&mut gen, &[tiny], &Sampling::default());
    assert_eq!((out[0].tokens, out[0].end), (3, Some(StepEnd::Budget)));
    // Without the delimiter stop the answer runs to its end.
    let whole = StepRequest {
        context: chat("Say hello.").into(),
        max_tokens: 200,
        stop_at_delimiter: false,
        hint: None,
    };
    let out = run(&mut gen, &[whole], &Sampling::default());
    assert_eq!(
        out[0].end,
        Some(StepEnd::EndOfSequence),
        "{:?}",
        out[0].text
    );
}

#[test]
fn multi_byte_characters_in_the_answer_are_handled() {
    // A list the model continues with more "÷": the delimiter check looks a
    // byte back into the text, which once landed inside the character.
    let mut gen = ExecutorGenerator::new(smol());
    let req = StepRequest {
        context: "42 ÷ 6 = 7\n12 ÷ 4 = 3\n20 ÷ 5 = 4\n9 ÷ 3 = 3\n".into(),
        max_tokens: 40,
        stop_at_delimiter: true,
        hint: None,
    };
    let out = run(&mut gen, &[req], &Sampling::default());
    assert!(out[0].text.contains('÷'), "{:?}", out[0].text);
}

#[test]
fn cancellation_stops_between_passes() {
    let mut gen = ExecutorGenerator::new(smol());
    let cancel = CancelFlag::new();
    let mut pieces = 0;
    let c = cancel.clone();
    let out = gen
        .continue_steps(&requests(60), &Sampling::default(), &cancel, &mut |_, _| {
            pieces += 1;
            if pieces == 5 {
                c.cancel();
            }
        })
        .expect("cancelled call returns what it has");
    assert!(out.iter().any(|o| o.end == Some(StepEnd::Cancelled)));
    assert!(out.iter().all(|o| o.tokens <= 3), "stopped within a pass");
}

#[test]
fn a_batch_over_the_memory_budget_runs_in_parts() {
    let reqs = requests(30);
    let reference = one_by_one(smol(), &reqs, &Sampling::default());
    // Room for about one request's cache at a time.
    let exec = smol();
    let per_request = 260 * exec.kv_layout().bytes_per_token();
    let small = load(
        SMOL,
        ExecutorOptions {
            kv_budget_bytes: per_request,
            ..ExecutorOptions::default()
        },
    );
    let mut gen = ExecutorGenerator::new(small.clone());
    let out = run(&mut gen, &reqs, &Sampling::default());
    assert_eq!(summary(&out), summary(&reference));
    assert!(small.kv_bytes_in_use() <= small.kv_budget_bytes());
}
