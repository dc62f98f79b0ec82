//! Models on an inference server (issue 17), against a real one: llama.cpp's
//! `llama-server` (support/llama_server.rs) serving the tiny test model with
//! four parallel slots. A missing server binary or model fails these tests;
//! nothing is skipped.

#[path = "support/llama_server.rs"]
mod llama_server;
use llama_server::Server;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lookahead_engine::{
    AnswerEvent, AnswerStatus, AskOptions, CancelFlag, Engine, EngineConfig, JudgeChoice, Mode,
    PlainSpeed, PromptStyle, Sampling, StepEnd, StepGenerator, StepRequest, Verdict,
};
use lookahead_engine::{ServerConfig, ServerGenerator};

fn options(mode: Mode, max_tokens: usize) -> AskOptions {
    AskOptions {
        mode,
        max_answer_tokens: max_tokens,
        step_token_budget: 100,
        gamma: 2,
        judge: JudgeChoice::Exact,
        slowdown_guard: false,
        ..AskOptions::default()
    }
}

const QUESTION: &str = "List three colours, one per paragraph.";

#[test]
fn plain_and_lookahead_answers_come_from_the_server_with_per_step_verdicts() {
    let server = Server::start();
    let mut engine = Engine::load(&server.engine_config(true), &mut |_| {}).expect("connects");
    assert!(
        engine.target_name().contains(&server.url),
        "where it ran is named: {}",
        engine.target_name()
    );
    // Token-level speculation needs a local target.
    assert_eq!(engine.available_modes(), [Mode::Plain, Mode::Lr]);

    let plain = engine
        .ask(
            QUESTION,
            &options(Mode::Plain, 48),
            &CancelFlag::new(),
            &mut |_| {},
        )
        .expect("plain answer");
    assert_eq!(plain.status, AnswerStatus::Complete);
    assert!(plain.metrics.generated_tokens > 0 && !plain.text.is_empty());

    let mut streamed = String::new();
    let lr = engine
        .ask(
            QUESTION,
            &options(Mode::Lr, 300),
            &CancelFlag::new(),
            &mut |e| {
                if let AnswerEvent::Token { text } = e {
                    streamed.push_str(&text);
                }
            },
        )
        .expect("lr answer");
    assert_eq!(lr.status, AnswerStatus::Complete);
    assert!(lr.steps.len() >= 2, "{} steps", lr.steps.len());
    // The same model drafts and checks: drafted steps are judged, and kept.
    let judged = lr
        .steps
        .iter()
        .filter(|s| s.verdict != Verdict::TargetOnly)
        .count();
    assert!(judged > 0, "no drafted step was judged: {:?}", lr.steps);
    assert!(lr.metrics.drafted_steps.unwrap_or(0) > 0);
    assert!(
        streamed.len() >= lr.text.trim().len() / 2,
        "the answer streamed"
    );

    let err = engine
        .ask(
            QUESTION,
            &options(Mode::Sd, 16),
            &CancelFlag::new(),
            &mut |_| {},
        )
        .expect_err("sd needs a local target");
    assert!(
        err.user_message().contains("on this computer"),
        "{}",
        err.user_message()
    );
}

#[test]
fn step_drafting_that_lost_time_is_paused_for_the_next_answers_then_tried_again() {
    let server = Server::start();
    let mut engine = Engine::load(&server.engine_config(true), &mut |_| {}).expect("connects");
    // A yardstick no round can reach: every round of drafting is slower
    // than "plain decoding", so the slowdown guard steps in every time.
    engine.set_plain_speed(PlainSpeed::new(1e9, 1e9));
    let lr = |engine: &mut Engine| {
        engine
            .ask(
                "Count from one to twenty in words, one per paragraph.",
                &AskOptions {
                    slowdown_guard: true,
                    // Short steps: several rounds in every answer.
                    step_token_budget: 24,
                    // The tiny model writes this answer in many paragraphs
                    // after the model's own system prompt (with the
                    // instruction as the system turn it may write one).
                    prompt: PromptStyle::Standard,
                    ..options(Mode::Lr, 240)
                },
                &CancelFlag::new(),
                &mut |_| {},
            )
            .expect("lr answer")
    };
    let why = |a: &lookahead_engine::Answer| {
        assert_eq!(a.status, AnswerStatus::Complete);
        assert!(!a.text.is_empty());
        assert!(a.metrics.guard_stopped, "the guard had its say");
        a.metrics.speculation_stopped.clone().unwrap_or_default()
    };
    let stopped_in_a_round = "step speculation ran at";
    // What the app reads to tell a paused answer from one stopped partway.
    let proposed = |a: &lookahead_engine::Answer| {
        a.metrics
            .per_position_acceptance
            .as_ref()
            .map_or(0, |p| p.iter().map(|c| c.proposed).sum::<usize>())
    };

    // The first answer drafts steps; its rounds are slow, and the guard
    // stops drafting partway.
    let first = lr(&mut engine);
    assert!(why(&first).contains(stopped_in_a_round), "{}", why(&first));
    assert!(proposed(&first) > 0);
    assert!(!first.metrics.step_drafting_paused());

    // The next two answers do not spend a round finding that out again.
    for again in [
        "tried again after 1 more answer",
        "tried again in the next answer",
    ] {
        let paused = lr(&mut engine);
        let reason = why(&paused);
        assert!(
            reason.contains("step drafting paused") && reason.contains(again),
            "{reason}"
        );
        assert_eq!(paused.metrics.drafted_steps, Some(0));
        assert_eq!(proposed(&paused), 0);
        assert!(paused.metrics.step_drafting_paused());
        assert!(paused
            .steps
            .iter()
            .all(|s| s.verdict == Verdict::TargetOnly));
    }

    // Then drafting is tried again (and stopped again).
    let fourth = lr(&mut engine);
    assert!(
        why(&fourth).contains(stopped_in_a_round),
        "{}",
        why(&fourth)
    );
}

#[test]
fn branches_run_at_the_same_time_and_steps_end_at_the_delimiter() {
    let server = Server::start();
    let mut generator = ServerGenerator::connect(&server.config()).expect("connects");
    let prompt = "<|im_start|>user\nCount from one to thirty in words, one per paragraph.<|im_end|>\n<|im_start|>assistant\n";
    let requests: Vec<StepRequest> = (0..3)
        .map(|i| StepRequest {
            context: format!("{prompt}{}", ["", "One.\n\n", "One.\n\nTwo.\n\n"][i]).into(),
            max_tokens: 24,
            stop_at_delimiter: i == 0,
            hint: None,
        })
        .collect();
    let mut pieces = vec![0usize; 3];
    let outputs = generator
        .continue_steps(
            &requests,
            &Sampling::default(),
            &CancelFlag::new(),
            &mut |i, _| pieces[i] += 1,
        )
        .expect("three branches");
    assert_eq!(outputs.len(), 3);
    assert!(
        pieces.iter().all(|&n| n > 0),
        "every branch streamed: {pieces:?}"
    );
    for (i, out) in outputs.iter().enumerate() {
        assert!(out.tokens > 0, "branch {i} wrote nothing");
        match out.end {
            Some(StepEnd::Delimiter) => assert!(out.text.ends_with("\n\n"), "{:?}", out.text),
            Some(StepEnd::Budget) => assert_eq!(out.tokens, 24),
            Some(StepEnd::EndOfSequence) => {}
            other => panic!("branch {i}: {other:?}"),
        }
    }
    // The server's slots ran them together: every branch was writing
    // before any of them had finished.
    let timings = generator.last_timings();
    let last_first = timings
        .iter()
        .map(|t| t.first_text.expect("text came"))
        .max()
        .expect("timings");
    let first_done = timings.iter().map(|t| t.done).min().expect("timings");
    assert!(
        last_first < first_done,
        "the branches ran one after another, not at the same time"
    );
    let stats = generator.take_stats();
    assert_eq!((stats.forward_passes, stats.batched_sequences), (1, 3));
}

#[test]
fn cancelling_closes_the_request_and_the_server_serves_on() {
    let server = Server::start();
    let mut engine = Engine::load(&server.engine_config(false), &mut |_| {}).expect("connects");
    let cancel = CancelFlag::new();
    let mut tokens = 0;
    let started = Instant::now();
    let answer = engine
        .ask(QUESTION, &options(Mode::Plain, 600), &cancel, &mut |e| {
            if let AnswerEvent::Token { .. } = e {
                tokens += 1;
                if tokens == 5 {
                    cancel.cancel();
                }
            }
        })
        .expect("a cancelled answer is an answer");
    assert_eq!(answer.status, AnswerStatus::Cancelled);
    assert!(!answer.text.is_empty(), "what was written is kept");
    assert!(started.elapsed() < Duration::from_secs(30));
    // The slot was freed: the next question is answered.
    let next = engine
        .ask(
            QUESTION,
            &options(Mode::Plain, 8),
            &CancelFlag::new(),
            &mut |_| {},
        )
        .expect("served on");
    assert_eq!(next.status, AnswerStatus::Complete);
}

#[test]
fn a_wrong_address_a_wrong_name_and_a_server_that_dies_are_said_in_plain_words() {
    let mut server = Server::start();
    let wrong_name = ServerConfig {
        model: Some("qwen-72b".into()),
        ..server.config()
    };
    let err = Engine::load(
        &EngineConfig {
            target_server: Some(wrong_name),
            ..EngineConfig::new(PathBuf::new(), None)
        },
        &mut |_| {},
    )
    .err()
    .expect("no such model");
    assert_eq!(err.code(), "server_unknown_model");
    assert!(
        err.user_message().contains("SmolLM2"),
        "{}",
        err.user_message()
    );

    let mut engine = Engine::load(&server.engine_config(false), &mut |_| {}).expect("connects");
    let mut streamed = String::new();
    let mut killed = false;
    let err = engine
        .ask(
            QUESTION,
            &options(Mode::Plain, 600),
            &CancelFlag::new(),
            &mut |e| {
                if let AnswerEvent::Token { text } = e {
                    streamed.push_str(&text);
                    if !killed && streamed.len() > 10 {
                        killed = true;
                        server.kill();
                    }
                }
            },
        )
        .expect_err("the server died");
    assert!(
        ["server_dropped", "server_unreachable"].contains(&err.code()),
        "{}: {err}",
        err.code()
    );
    assert!(
        !streamed.is_empty(),
        "the text written before is the caller's to keep"
    );

    let gone = Engine::load(&server.engine_config(false), &mut |_| {})
        .err()
        .expect("nothing listens now");
    assert_eq!(gone.code(), "server_unreachable");
    assert!(gone.user_message().contains("cannot be reached"));
}

/// The OpenAI-compatible path (vLLM's, mistral.rs's) against the same real
/// server's own `/v1` endpoints: steps stop at the delimiter, branches
/// stream, and an answer is written end to end.
#[test]
fn the_openai_compatible_path_answers_too() {
    let server = Server::start();
    let config = ServerConfig {
        openai_only: true,
        ..server.config()
    };
    let mut generator = ServerGenerator::connect(&config).expect("connects");
    let prompt = "<|im_start|>user\nList three colours, one per paragraph.<|im_end|>\n<|im_start|>assistant\n";
    let outputs = generator
        .continue_steps(
            &[
                StepRequest {
                    context: prompt.to_string().into(),
                    max_tokens: 60,
                    stop_at_delimiter: true,
                    hint: None,
                },
                StepRequest {
                    context: prompt.to_string().into(),
                    max_tokens: 12,
                    stop_at_delimiter: false,
                    hint: None,
                },
            ],
            &Sampling::default(),
            &CancelFlag::new(),
            &mut |_, _| {},
        )
        .expect("two completions");
    assert!(outputs.iter().all(|o| o.tokens > 0 && !o.text.is_empty()));
    assert!(
        matches!(
            outputs[0].end,
            Some(StepEnd::Delimiter | StepEnd::EndOfSequence | StepEnd::Budget)
        ),
        "{:?}",
        outputs[0].end
    );
    if outputs[0].end == Some(StepEnd::Delimiter) {
        assert!(outputs[0].text.ends_with("\n\n"));
    }
    assert_eq!(outputs[1].end, Some(StepEnd::Budget));

    let mut engine = Engine::load(
        &EngineConfig {
            target_server: Some(config),
            ..EngineConfig::new(PathBuf::new(), None)
        },
        &mut |_| {},
    )
    .expect("connects");
    let answer = engine
        .ask(
            QUESTION,
            &options(Mode::Plain, 48),
            &CancelFlag::new(),
            &mut |_| {},
        )
        .expect("answer");
    assert!(!answer.text.is_empty());
}
