//! The default pair (Qwen2.5-Coder 1.5B target, 0.5B draft): too slow for
//! CI on two cores, run with `cargo test --test executor -- --ignored`.

use lookahead_engine::parts::ExecutorGenerator;
use lookahead_engine::parts::{NgramConfig, SpeculationConfig, SpeculativeGenerator};
use lookahead_engine::{Sampling, StepGenerator, StepRequest};
use lookahead_executor::ExecutorOptions;

use crate::common::{chat, load, model_path, QUESTION, QWEN_DRAFT, QWEN_TARGET};
use crate::generator::run;
use crate::mistral::{agreement, candle_greedy_with, Reference};

fn request(max_tokens: usize, stop_at_delimiter: bool) -> StepRequest {
    StepRequest {
        context: chat(QUESTION).into(),
        max_tokens,
        stop_at_delimiter,
        hint: None,
    }
}

#[test]
#[ignore = "loads the 1.5B model; minutes on two cores"]
fn qwen_pair_speculation_equals_plain_greedy() {
    let target = load(QWEN_TARGET, ExecutorOptions::default());
    let draft = load(QWEN_DRAFT, ExecutorOptions::default());
    let reqs = [request(64, false)];
    let expected = run(
        &mut ExecutorGenerator::new(target.clone()),
        &reqs,
        &Sampling::default(),
    );
    target.clear_prefix_cache();
    let mut spec =
        SpeculativeGenerator::with_draft(target.clone(), draft, SpeculationConfig::default())
            .unwrap();
    let got = run(&mut spec, &reqs, &Sampling::default());
    assert_eq!(expected[0].text, got[0].text);
    let stats = spec.take_stats();
    eprintln!(
        "draft SD: accepted {}/{} in {} rounds",
        stats.accepted_tokens, stats.drafted_tokens, stats.verification_rounds
    );
    target.clear_prefix_cache();
    let mut ngram = SpeculativeGenerator::with_ngram(
        target,
        NgramConfig::default(),
        SpeculationConfig::default(),
    );
    let got = run(&mut ngram, &reqs, &Sampling::default());
    assert_eq!(expected[0].text, got[0].text);
}

#[test]
#[ignore = "loads the 1.5B model three times (executor, candle, mistral.rs); minutes on two cores"]
fn qwen_target_greedy_matches_candle_and_is_compared_with_mistralrs() {
    use candle_transformers::models::quantized_qwen2::ModelWeights;
    const N: usize = 32;
    let target = load(QWEN_TARGET, ExecutorOptions::default());
    let ours = run(
        &mut ExecutorGenerator::new(target.clone()),
        &[request(N, false)],
        &Sampling::default(),
    );
    let tok = target.tokenizer();
    let prompt = tok.encode(&chat(QUESTION)).unwrap();

    // candle-transformers' quantized qwen2, f32: must agree token for token.
    let dev = candle_core::Device::Cpu;
    let mut f = std::fs::File::open(model_path(QWEN_TARGET)).unwrap();
    let ct = candle_core::quantized::gguf_file::Content::read(&mut f).unwrap();
    let mut model = ModelWeights::from_gguf(ct, &mut f, &dev).unwrap();
    let (_, ids) = candle_greedy_with(
        |x, pos| model.forward(x, pos),
        target.config().vocab,
        &prompt,
        N,
    );
    let candle_text = tok.decode(&ids).unwrap();
    let (_, report) = agreement(
        &tok.encode(&ours[0].text).unwrap(),
        &tok.encode(&candle_text).unwrap(),
    );
    eprintln!("Qwen 1.5B greedy vs candle-transformers: {report}");
    assert_eq!(ours[0].text, candle_text, "{report}");

    let reference = Reference::load(&model_path(QWEN_TARGET));
    let theirs = reference.complete_greedy(&chat(QUESTION), N);
    let (_, report) = agreement(
        &tok.encode(&ours[0].text).unwrap(),
        &tok.encode(&theirs).unwrap(),
    );
    eprintln!(
        "Qwen 1.5B greedy vs mistral.rs: {report}\n ours:   {:?}\n theirs: {theirs:?}",
        ours[0].text
    );
}
