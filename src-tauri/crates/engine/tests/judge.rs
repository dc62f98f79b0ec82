//! The judges: exact match, the exact-first shortcut, the LLM judge's prompt
//! and reading (on a scripted model), and the embedding judge on the real
//! all-MiniLM-L6-v2 (which must be installed; see models.md).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lookahead_engine::parts::{judge_prompt, LlmJudgeSettings};
use lookahead_engine::parts::{run_lookahead, run_plain_steps, LookaheadModels, LookaheadSettings};
use lookahead_engine::parts::{
    EmbeddingJudge, ExactFirst, ExactJudge, Judge, LlmJudge, SameNumbers, SharedGenerator,
};
use lookahead_engine::parts::{ScriptedGenerator, ScriptedJudge};
use lookahead_engine::{
    CancelFlag, Context, EngineError, GeneratorStats, Result, Sampling, StepEnd, StepGenerator,
    StepOutput, StepRequest,
};

fn minilm() -> EmbeddingJudge {
    use lookahead_models::{self as models, Role};
    let spec = models::spec_for_role(Role::Embedding).expect("catalog has the embedding model");
    let dir = models::models_dir().join(spec.file_name);
    EmbeddingJudge::load(&dir, EmbeddingJudge::DEFAULT_THRESHOLD).unwrap_or_else(|e| {
        panic!(
            "the embedding judge test needs all-MiniLM-L6-v2 in {} (set LOOKAHEAD_MODELS_DIR): {e}",
            dir.display()
        )
    })
}

#[test]
fn exact_judge_ignores_case_and_whitespace() {
    let mut judge = ExactJudge;
    let yes = judge
        .judge("3 + 4 = 7 apples.\n\n", "3+4=7 Apples.")
        .expect("exact");
    assert!(yes.accepted);
    assert_eq!(yes.score, Some(1.0));
    let no = judge.judge("3 + 4 = 7", "3 + 4 = 8").expect("exact");
    assert!(!no.accepted);
    assert_eq!(no.score, Some(0.0));
}

#[test]
fn exact_first_skips_the_inner_judge_for_equal_steps() {
    let mut judge = ExactFirst::new(ScriptedJudge::reject_all());
    assert_eq!(judge.name(), "exact+reject-all");
    assert!(
        judge
            .judge("Step one.\n\n", "step ONE.")
            .expect("judge")
            .accepted
    );
    assert!(judge.inner().calls().is_empty());
    assert!(
        !judge
            .judge("Step one.", "Step two.")
            .expect("judge")
            .accepted
    );
    assert_eq!(judge.inner().calls().len(), 1);
}

/// The requests a scripted model saw, with their sampling.
type SeenRequests = Arc<Mutex<Vec<(StepRequest, Sampling)>>>;

/// A model that answers every request with one fixed token and remembers
/// the requests.
struct OneTokenModel {
    reply: String,
    seen: SeenRequests,
}

impl StepGenerator for OneTokenModel {
    fn name(&self) -> &str {
        "one-token"
    }
    fn count_tokens(&self, context: &Context) -> Result<usize> {
        Ok(context.text().split_whitespace().count())
    }
    fn context_limit(&self) -> usize {
        4096
    }
    fn continue_steps(
        &mut self,
        requests: &[StepRequest],
        sampling: &Sampling,
        _cancel: &CancelFlag,
        _on_token: lookahead_engine::parts::TokenSink<'_>,
    ) -> Result<Vec<StepOutput>> {
        let mut seen = self.seen.lock().expect("test lock");
        Ok(requests
            .iter()
            .map(|request| {
                seen.push((request.clone(), sampling.clone()));
                StepOutput {
                    text: self.reply.clone(),
                    tokens: 1,
                    end: Some(StepEnd::Budget),
                    ..StepOutput::default()
                }
            })
            .collect())
    }
    fn take_stats(&mut self) -> GeneratorStats {
        GeneratorStats::default()
    }
}

fn llm_judge(reply: &str) -> (LlmJudge, SeenRequests) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let model = OneTokenModel {
        reply: reply.to_string(),
        seen: Arc::clone(&seen),
    };
    (
        LlmJudge::new(Box::new(model), LlmJudgeSettings::default()),
        seen,
    )
}

#[test]
fn llm_judge_renders_the_prompt_and_reads_aligned() {
    let (mut judge, seen) = llm_judge("aligned");
    let verdict = judge
        .judge(
            "3 + 4 = 7 apples.\n\n",
            "The total is 7 apples since 3+4=7.\n\n",
        )
        .expect("judge");
    assert!(verdict.accepted);
    assert_eq!(verdict.score, Some(1.0));
    assert!(verdict.latency > Duration::ZERO);
    let seen = seen.lock().expect("test lock");
    let (request, sampling) = &seen[0];
    assert_eq!(
        request.text(),
        judge_prompt("3 + 4 = 7 apples.", "The total is 7 apples since 3+4=7.")
    );
    assert!(request.text().contains("<<<\n3 + 4 = 7 apples.\n>>>"));
    assert!(request
        .text()
        .contains("<<<\nThe total is 7 apples since 3+4=7.\n>>>"));
    assert!(request.text().ends_with("<|im_start|>assistant\n["));
    assert_eq!(request.max_tokens, 1, "one generated token decides");
    assert!(!request.stop_at_delimiter);
    assert!(sampling.is_greedy());
    assert_eq!(judge.name(), "llm:one-token");
}

#[test]
fn llm_judge_rejects_not_aligned_and_anything_unclear() {
    for reply in ["not", "Not aligned]", "un", "maybe", ""] {
        let (mut judge, _) = llm_judge(reply);
        let verdict = judge.judge("3 + 4 = 7", "3 + 4 = 8").expect("judge");
        assert!(!verdict.accepted, "reply {reply:?} must reject");
        assert_eq!(verdict.score, Some(0.0));
    }
}

#[test]
fn shared_model_can_write_and_judge_the_same_answer() {
    let prompt = "Q?\n";
    let answer = ["Step one.\n\n", "Step two.\n\n", "Done."];
    let draft_steps = ["Step 1.\n\n", "Step 2.\n\n", "Done."];
    let target = SharedGenerator::new(Box::new(ScriptedGenerator::new("target", prompt, &answer)));
    let mut draft = ScriptedGenerator::new("draft", prompt, &draft_steps).also(prompt, &answer);
    // The judge asks the target itself; its scripted reply to a judge prompt
    // is off-script, so it never says "aligned": every draft is rejected.
    let mut judge = ExactFirst::new(LlmJudge::new(
        Box::new(target.clone()),
        LlmJudgeSettings::default(),
    ));
    let mut scheduler_target = target.clone();
    let settings = LookaheadSettings::default();
    let outcome = run_lookahead(
        LookaheadModels {
            draft: &mut draft,
            target: &mut scheduler_target,
            judge: &mut judge,
        },
        prompt,
        &settings,
        &Sampling::default(),
        &CancelFlag::new(),
        &mut |_| {},
    )
    .expect("lookahead with a shared model");
    let mut plain_target = target.clone();
    let plain = run_plain_steps(
        &mut plain_target,
        prompt,
        &settings,
        &Sampling::default(),
        &CancelFlag::new(),
        &mut |_| {},
    )
    .expect("plain");
    assert_eq!(outcome.text, plain.text);
    assert_eq!(outcome.text, answer.concat());
}

#[test]
fn embedding_judge_missing_folder_is_model_missing() {
    let dir = std::env::temp_dir().join("lookahead-no-such-model-folder");
    let error = EmbeddingJudge::load(&dir, 0.95).err().expect("must fail");
    assert!(matches!(&error, EngineError::ModelMissing { path, .. } if path == &dir));
    assert_eq!(error.code(), "model_missing");
    let message = error.user_message();
    assert!(message.contains("embedding judge"), "{message}");
    assert!(message.contains(&dir.display().to_string()), "{message}");
}

#[test]
fn embedding_judge_folder_without_weights_is_model_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("config.json"), "{}").expect("write");
    let error = EmbeddingJudge::load(dir.path(), 0.95)
        .err()
        .expect("must fail");
    assert!(
        matches!(&error, EngineError::ModelMissing { path, .. } if path.ends_with("tokenizer.json"))
    );
}

#[test]
fn embedding_judge_identical_steps_score_one() {
    let mut judge = minilm();
    let verdict = judge
        .judge("3 + 4 = 7 apples.\n\n", "3 + 4 = 7 apples.")
        .expect("judge");
    let score = verdict.score.expect("score");
    assert!((score - 1.0).abs() < 1e-4, "score {score}");
    assert!(verdict.accepted);
    assert_eq!(judge.name(), "embedding@0.95");
}

#[test]
fn embedding_judge_tells_paraphrase_from_unrelated() {
    let mut judge = minilm();
    let step = "3 + 4 = 7 apples.";
    let paraphrase = judge
        .judge(step, "The total is 7 apples since 3+4=7.")
        .expect("judge");
    let unrelated = judge
        .judge(step, "The train leaves at 9 am.")
        .expect("judge");
    let (p, u) = (
        paraphrase.score.expect("score"),
        unrelated.score.expect("score"),
    );
    eprintln!("MiniLM cosine: paraphrase {p:.3}, unrelated {u:.3}");
    assert!(p > 0.6, "paraphrase score {p}");
    assert!(u < 0.3, "unrelated score {u}");
    assert!(!unrelated.accepted);
    assert!(p - u > 0.4);
}

#[test]
fn a_step_with_another_figure_is_rejected_though_it_embeds_alike() {
    let target = "She has 16 - 3 - 4 = 9 eggs left to sell.\n\n";
    let drafted = "She has 16 - 3 - 4 = 8 eggs left to sell.";
    // MiniLM alone keeps the slip: one figure barely moves the embedding.
    let mut alone = minilm();
    let score = alone.similarity(target, drafted).expect("similarity");
    eprintln!("MiniLM cosine with one figure changed: {score:.3}");
    assert!(alone.judge(target, drafted).expect("judge").accepted);

    let mut judge = SameNumbers::new(minilm());
    assert_eq!(judge.name(), "numbers+embedding@0.95");
    let verdict = judge.judge(target, drafted).expect("judge");
    assert!(!verdict.accepted);
    assert_eq!(verdict.score, None, "no similarity was measured");
    // The same figures, said another way, still go to the embedding.
    let same = judge
        .judge(target, "After 16 - 3 - 4 = 9, she has 9 eggs left to sell.")
        .expect("judge");
    assert!(same.score.expect("score") > 0.5, "{same:?}");
}

#[test]
fn the_numbers_rule_asks_the_inner_judge_only_when_figures_agree() {
    let mut judge = SameNumbers::new(ScriptedJudge::accept_all());
    assert!(
        !judge
            .judge("3 + 4 = 7", "3 + 4 = 8")
            .expect("judge")
            .accepted
    );
    assert!(
        judge
            .judge("3 + 4 = 7 apples", "4 + 3 = 7")
            .expect("judge")
            .accepted
    );
    assert!(
        judge
            .judge("Add them up.", "Sum the two.")
            .expect("judge")
            .accepted
    );
    assert!(
        !judge
            .judge("It costs $1,500.", "It costs $150.")
            .expect("judge")
            .accepted
    );
    assert!(
        judge
            .judge("It costs $1,500.", "It costs 1500 pounds.")
            .expect("judge")
            .accepted
    );
}

#[test]
fn embedding_judge_threshold_decides() {
    let mut judge = minilm();
    let pair = ("3 + 4 = 7 apples.", "The total is 7 apples since 3+4=7.");
    let score = judge.similarity(pair.0, pair.1).expect("similarity");
    judge.set_threshold(score - 0.01);
    assert!(judge.judge(pair.0, pair.1).expect("judge").accepted);
    judge.set_threshold(score + 0.01);
    assert!(!judge.judge(pair.0, pair.1).expect("judge").accepted);
}

#[test]
fn embedding_judge_latency_per_step() {
    let mut judge = minilm();
    let pairs = [
        (
            "Natalia sold 48 clips in April.\n\n",
            "In April Natalia sold 48 clips.\n\n",
        ),
        (
            "In May she sold half as many: 48 / 2 = 24 clips.\n\n",
            "Half of 48 is 24, so she sold 24 clips in May.\n\n",
        ),
        (
            "Altogether she sold 48 + 24 = 72 clips in April and May.\n\n",
            "So the total number of clips is 48 + 24 = 72.\n\n",
        ),
        ("Final answer: 72", "Final answer: 72"),
    ];
    // The first call warms caches; time the rest.
    judge.judge(pairs[0].0, pairs[0].1).expect("warm-up");
    let rounds = 5;
    let started = Instant::now();
    let mut reported = Duration::ZERO;
    for _ in 0..rounds {
        for (target, draft) in pairs {
            reported += judge.judge(target, draft).expect("judge").latency;
        }
    }
    let per_step = started.elapsed() / (rounds * pairs.len()) as u32;
    eprintln!(
        "embedding judge latency per step on this CPU: {:.1} ms (reported {:.1} ms)",
        per_step.as_secs_f64() * 1000.0,
        reported.as_secs_f64() * 1000.0 / (rounds * pairs.len()) as f64
    );
    assert!(
        per_step < Duration::from_secs(1),
        "{per_step:?} per step is far too slow"
    );
}

#[test]
fn llm_judge_on_smollm2_returns_a_verdict() {
    use lookahead_engine::parts::MistralGenerator;
    use lookahead_models::{self as models, Role};
    let path = models::fetched(Role::Tiny).unwrap_or_else(|e| panic!("{e}"));
    let model = MistralGenerator::load(&path, "judge").expect("SmolLM2 loads");
    let mut judge = LlmJudge::new(Box::new(model), LlmJudgeSettings::default());
    // Only the mechanics: a 135M model's opinion is not worth testing.
    let verdict = judge
        .judge(
            "3 + 4 = 7 apples.\n\n",
            "The total is 7 apples since 3+4=7.\n\n",
        )
        .expect("verdict");
    eprintln!(
        "SmolLM2 judge: accepted {}, {:.2}s",
        verdict.accepted,
        verdict.latency.as_secs_f64()
    );
    assert!(matches!(verdict.score, Some(s) if s == 0.0 || s == 1.0));
    assert_eq!(verdict.score == Some(1.0), verdict.accepted);
    assert!(verdict.latency > Duration::ZERO);
}
