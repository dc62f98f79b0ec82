//! The step scheduler on scripted models: which steps are kept, when an
//! answer ends, and how it falls back. No model files needed.

use std::time::Duration;

use lookahead_engine::parts::{
    run_lookahead, run_plain_steps, LookaheadEnd, LookaheadModels, LookaheadOutcome,
    LookaheadSettings, SchedulerEvent,
};
use lookahead_engine::parts::{ExactJudge, Judge};
use lookahead_engine::parts::{ScriptedGenerator, ScriptedJudge};
use lookahead_engine::{CancelFlag, KeptFrom, Piece, Sampling, Stage, StepGenerator, Verdict};

const PROMPT: &str = "<|im_start|>user\nHow many apples?<|im_end|>\n<|im_start|>assistant\n";

/// The target's answer: four steps, the last one ends the answer.
const ANSWER: [&str; 4] = [
    "Step one.\n\n",
    "Step two.\n\n",
    "Step three.\n\n",
    "Final: 7",
];

/// Rounds from the first step on (the engine lets the target write the
/// first step alone; `first_words_never_wait_for_drafting` tests that).
fn settings(gamma: usize) -> LookaheadSettings {
    LookaheadSettings {
        gamma,
        adaptive_gamma: false,
        slowdown_guard: false,
        first_step_by_target: false,
        ..LookaheadSettings::default()
    }
}

fn target() -> ScriptedGenerator {
    ScriptedGenerator::new("target", PROMPT, &ANSWER)
}

struct Run {
    outcome: LookaheadOutcome,
    events: Vec<SchedulerEvent>,
}

fn lookahead(
    draft: &mut ScriptedGenerator,
    target: &mut ScriptedGenerator,
    judge: &mut dyn Judge,
    settings: &LookaheadSettings,
    cancel: &CancelFlag,
) -> Run {
    let mut events = Vec::new();
    let outcome = run_lookahead(
        LookaheadModels {
            draft,
            target,
            judge,
        },
        PROMPT,
        settings,
        &Sampling::default(),
        cancel,
        &mut |event| events.push(event),
    )
    .expect("lookahead run");
    check_events_match(&outcome, &events);
    Run { outcome, events }
}

fn plain(target: &mut ScriptedGenerator, settings: &LookaheadSettings) -> LookaheadOutcome {
    run_plain_steps(
        target,
        PROMPT,
        settings,
        &Sampling::default(),
        &CancelFlag::new(),
        &mut |_| {},
    )
    .expect("plain run")
}

/// Text and step events (the answer itself, not the stage reports).
fn settled(events: &[SchedulerEvent]) -> usize {
    events
        .iter()
        .filter(|e| !matches!(e, SchedulerEvent::Stage(_)))
        .count()
}

/// The streamed text and steps are exactly the outcome's.
fn check_events_match(outcome: &LookaheadOutcome, events: &[SchedulerEvent]) {
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            SchedulerEvent::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    let steps: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SchedulerEvent::Step(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(text, outcome.text);
    assert_eq!(steps, outcome.steps);
    for (i, step) in outcome.steps.iter().enumerate() {
        assert_eq!(step.index, i);
    }
    assert_eq!(
        outcome
            .steps
            .iter()
            .map(|s| s.text.as_str())
            .collect::<String>(),
        outcome.text
    );
}

#[test]
fn identical_draft_is_accepted_throughout_with_bonus_steps() {
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &ANSWER);
    let mut target = target();
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings(2),
        &CancelFlag::new(),
    );
    let outcome = run.outcome;
    assert_eq!(outcome.text, ANSWER.concat());
    assert_eq!(outcome.ended, LookaheadEnd::EndOfSequence);
    assert_eq!(outcome.fallback, None);
    // Round 1: ŝ0, ŝ1 accepted + bonus s2. Round 2: the drafted last step
    // ends the answer and is accepted.
    let verdicts: Vec<_> = outcome
        .steps
        .iter()
        .map(|s| (s.verdict, s.kept_from))
        .collect();
    assert_eq!(
        verdicts,
        [
            (Verdict::Accepted, KeptFrom::Draft),
            (Verdict::Accepted, KeptFrom::Draft),
            (Verdict::TargetOnly, KeptFrom::Target),
            (Verdict::Accepted, KeptFrom::Draft),
        ]
    );
    let stats = &outcome.stats;
    assert_eq!(
        (stats.rounds, stats.drafted_steps, stats.accepted_steps),
        (2, 3, 3)
    );
    assert_eq!(stats.bonus_steps, 1);
    assert_eq!(stats.accepted_per_round, [0, 1, 1]);
    assert_eq!(stats.step_acceptance_rate(), Some(1.0));
    assert_eq!(stats.mean_acceptance_length(), Some(2.5));
    assert_eq!(stats.per_position_acceptance(), [1.0, 1.0]);
    // One target call per round carrying every branch whose prefix existed.
    let batch_sizes: Vec<_> = target.calls().iter().map(Vec::len).collect();
    assert_eq!(batch_sizes, [3, 1]);
    // Branch j carries the helper's draft of step j as its token hint (the
    // bonus branch has none to follow).
    let hints: Vec<_> = target.calls()[0]
        .iter()
        .map(|r| r.hint.as_ref().map(Piece::text))
        .collect();
    assert_eq!(hints, [Some(ANSWER[0]), Some(ANSWER[1]), None]);
    assert_eq!(stats.target_batch_sizes, [0, 1, 0, 1]);
    assert_eq!(draft.calls().len(), 3, "the draft writes one step per call");
    assert!(draft.calls().iter().all(|c| c.len() == 1));
    assert_eq!(stats.answer_tokens, ANSWER.concat().chars().count());
}

#[test]
fn first_words_never_wait_for_drafting() {
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &ANSWER);
    let mut target = target();
    let settings = LookaheadSettings {
        first_step_by_target: true,
        ..settings(2)
    };
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings,
        &CancelFlag::new(),
    );
    assert_eq!(run.outcome.text, ANSWER.concat());
    // The first step is the target's own, streamed before anything else.
    assert_eq!(run.outcome.steps[0].kept_from, KeptFrom::Target);
    assert_eq!(run.outcome.steps[0].verdict, Verdict::TargetOnly);
    assert_eq!(
        run.events[0],
        SchedulerEvent::Stage(Stage::Writing { step: 0 })
    );
    assert!(
        matches!(&run.events[1], SchedulerEvent::Text(t) if ANSWER[0].starts_with(t.as_str())),
        "{:?}",
        run.events[1]
    );
    let first_draft = run
        .events
        .iter()
        .position(|e| matches!(e, SchedulerEvent::Stage(Stage::Drafting { .. })))
        .expect("drafting follows");
    let first_step_settled = run
        .events
        .iter()
        .position(|e| matches!(e, SchedulerEvent::Step(_)))
        .unwrap();
    assert!(first_step_settled < first_draft);
    assert_eq!(
        run.events[first_draft],
        SchedulerEvent::Stage(Stage::Drafting { step: 1, ahead: 2 })
    );
    assert!(
        run.events[first_draft..].contains(&SchedulerEvent::Stage(Stage::Checking {
            step: 1,
            drafted: 2
        }))
    );
    // Drafting still pays from the second step on.
    assert!(run.outcome.stats.accepted_steps > 0);
    // The draft was never asked for the first step.
    assert!(draft.calls().iter().flatten().all(|r| r.text() != PROMPT));
}

#[test]
fn rejection_keeps_accepted_drafts_then_the_target_step() {
    // The draft words step one its own way, gets step two wrong, then knows
    // how the target goes on.
    let paraphrase = "First step, one.\n\n";
    let mut draft = ScriptedGenerator::new(
        "draft",
        PROMPT,
        &[
            paraphrase,
            "Step 2 is wrong.\n\n",
            "Step three.\n\n",
            "Final: 7",
        ],
    )
    .also(
        PROMPT,
        &[paraphrase, "Step two.\n\n", "Step three.\n\n", "Final: 7"],
    );
    let mut target = target().also(
        PROMPT,
        &[paraphrase, "Step two.\n\n", "Step three.\n\n", "Final: 7"],
    );
    let mut judge = ScriptedJudge::new(
        "no-wrong",
        Box::new(|_, draft, _| Ok(!draft.contains("wrong"))),
    );
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut judge,
        &settings(3),
        &CancelFlag::new(),
    );
    let steps = &run.outcome.steps;
    assert_eq!(steps[0].text, paraphrase);
    assert_eq!(steps[0].verdict, Verdict::Accepted);
    assert_eq!(steps[0].kept_from, KeptFrom::Draft);
    assert_eq!(steps[0].target.as_deref(), Some("Step one.\n\n"));
    assert_eq!(steps[1].text, "Step two.\n\n");
    assert_eq!(steps[1].verdict, Verdict::Rejected);
    assert_eq!(steps[1].kept_from, KeptFrom::Target);
    assert_eq!(steps[1].drafted.as_deref(), Some("Step 2 is wrong.\n\n"));
    assert_eq!(
        run.outcome.text,
        format!("{paraphrase}Step two.\n\nStep three.\n\nFinal: 7")
    );
    // Round 1 asked the target for 4 branches (γ = 3 drafts + 1), each on
    // its drafted prefix, and judged only up to the rejection.
    let first_call = &target.calls()[0];
    assert_eq!(first_call.len(), 4);
    assert_eq!(first_call[1].text(), format!("{PROMPT}{paraphrase}"));
    assert_eq!(
        first_call[2].text(),
        format!("{PROMPT}{paraphrase}Step 2 is wrong.\n\n")
    );
    assert_eq!(judge.calls()[1].1, "Step 2 is wrong.\n\n");
    assert_eq!(run.outcome.stats.accepted_per_round[1], 1);
    assert!(!run.outcome.text.contains("off-script"));
}

#[test]
fn all_accepted_round_adds_the_bonus_step() {
    let steps = ["A.\n\n", "B.\n\n", "C.\n\n", "D.\n\n", "E.\n\n", "End."];
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &steps);
    let mut target = ScriptedGenerator::new("target", PROMPT, &steps);
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings(3),
        &CancelFlag::new(),
    );
    let first_round: Vec<_> = run.outcome.steps[..4].iter().map(|s| s.verdict).collect();
    assert_eq!(
        first_round,
        [
            Verdict::Accepted,
            Verdict::Accepted,
            Verdict::Accepted,
            Verdict::TargetOnly
        ]
    );
    assert_eq!(run.outcome.steps[3].text, "D.\n\n");
    assert_eq!(run.outcome.steps[3].drafted, None);
    assert_eq!(run.outcome.text, steps.concat());
    assert_eq!(run.outcome.stats.accepted_per_round, [0, 0, 1, 1]);
    assert!(run.outcome.stats.bonus_steps >= 1);
}

#[test]
fn unfinished_draft_stops_drafting_and_is_rejected_unjudged() {
    let long = "Step two, which the draft makes much too long.\n\n";
    let mut draft =
        ScriptedGenerator::new("draft", PROMPT, &["Step one.\n\n", long, "Step three.\n\n"])
            .also(PROMPT, &ANSWER);
    let mut target = target();
    let mut judge = ScriptedJudge::accept_all();
    let settings = LookaheadSettings {
        step_token_budget: 20,
        ..settings(3)
    };
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut judge,
        &settings,
        &CancelFlag::new(),
    );
    let outcome = run.outcome;
    // Round 1: ŝ0 accepted; ŝ1 hit the budget, so no branch 2 and no ŝ2.
    assert_eq!(target.calls()[0].len(), 2);
    assert_eq!(
        draft.calls()[2][0].text(),
        format!("{PROMPT}Step one.\n\nStep two.\n\n")
    );
    assert_eq!(outcome.steps[1].verdict, Verdict::Rejected);
    assert_eq!(outcome.steps[1].judge_score, None);
    assert_eq!(outcome.steps[1].text, "Step two.\n\n");
    assert_eq!(outcome.stats.unfinished_drafts, 1);
    assert_eq!(judge.calls()[0].1, "Step one.\n\n");
    assert_eq!(
        judge.calls()[1].1,
        "Step three.\n\n",
        "the cut draft was never judged"
    );
    assert_eq!(outcome.text, ANSWER.concat());
}

#[test]
fn accepted_draft_that_ends_the_answer_ends_it() {
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &["Step one.\n\n", "So 7."]);
    let mut target = target();
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ScriptedJudge::accept_all(),
        &settings(3),
        &CancelFlag::new(),
    );
    assert_eq!(run.outcome.text, "Step one.\n\nSo 7.");
    assert_eq!(run.outcome.ended, LookaheadEnd::EndOfSequence);
    // No branch after a drafted end, no further round, no bonus.
    assert_eq!(target.calls().len(), 1);
    assert_eq!(target.calls()[0].len(), 2);
    assert_eq!(draft.calls().len(), 2);
    assert_eq!(run.outcome.stats.bonus_steps, 0);
}

#[test]
fn rejected_draft_that_ends_the_answer_does_not_end_it() {
    let mut draft =
        ScriptedGenerator::new("draft", PROMPT, &["Step one.\n\n", "So 8."]).also(PROMPT, &ANSWER);
    let mut target = target();
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings(3),
        &CancelFlag::new(),
    );
    assert_eq!(run.outcome.text, ANSWER.concat());
    assert_eq!(run.outcome.steps[1].verdict, Verdict::Rejected);
}

#[test]
fn target_ending_mid_round_ends_the_answer() {
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &ANSWER);
    let mut target = ScriptedGenerator::new("target", PROMPT, &["Step one.\n\n", "That makes 7."]);
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings(3),
        &CancelFlag::new(),
    );
    assert_eq!(run.outcome.text, "Step one.\n\nThat makes 7.");
    assert_eq!(run.outcome.ended, LookaheadEnd::EndOfSequence);
    assert_eq!(run.outcome.steps[1].verdict, Verdict::Rejected);
    assert_eq!(target.calls().len(), 1, "nothing runs after the end");
}

#[test]
fn accepted_step_the_target_ended_on_stops_at_the_next_branch() {
    // The target ends after "Final: 7"; the draft adds a delimiter and goes
    // on. The exact judge accepts "Final: 7\n\n"; the target's next branch
    // then ends the answer with nothing, which no draft can match.
    let mut draft = ScriptedGenerator::new(
        "draft",
        PROMPT,
        &["Step one.\n\n", "Final: 7\n\n", "More.\n\n"],
    );
    let mut target = ScriptedGenerator::new("target", PROMPT, &["Step one.\n\n", "Final: 7"])
        .also(PROMPT, &["Step one.\n\n", "Final: 7\n\n"]);
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings(3),
        &CancelFlag::new(),
    );
    assert_eq!(run.outcome.text, "Step one.\n\nFinal: 7\n\n");
    assert_eq!(run.outcome.ended, LookaheadEnd::EndOfSequence);
    assert_eq!(run.outcome.steps.len(), 2);
}

#[test]
fn answer_token_budget_is_respected_and_matches_plain() {
    let settings = LookaheadSettings {
        max_answer_tokens: 25,
        ..settings(2)
    };
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &ANSWER);
    let run = lookahead(
        &mut draft,
        &mut target(),
        &mut ExactJudge,
        &settings,
        &CancelFlag::new(),
    );
    assert_eq!(run.outcome.ended, LookaheadEnd::TokenBudget);
    assert_eq!(run.outcome.stats.answer_tokens, 25);
    assert_eq!(run.outcome.text.chars().count(), 25);
    let baseline = plain(&mut target(), &settings);
    assert_eq!(baseline.ended, LookaheadEnd::TokenBudget);
    assert_eq!(run.outcome.text, baseline.text);
}

#[test]
fn context_limit_caps_the_answer() {
    let limit = PROMPT.chars().count() + 15;
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &ANSWER);
    let mut target = target().with_context_limit(limit);
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings(2),
        &CancelFlag::new(),
    );
    assert_eq!(run.outcome.ended, LookaheadEnd::TokenBudget);
    assert_eq!(run.outcome.text, "Step one.\n\nStep");
}

#[test]
fn cancel_during_the_target_call_returns_what_was_settled() {
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &ANSWER);
    // Round 1 settles three steps; the target's second call is stopped.
    let mut target = target().cancelling_on_call(1);
    let cancel = CancelFlag::new();
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings(2),
        &cancel,
    );
    assert!(cancel.is_cancelled());
    assert_eq!(run.outcome.ended, LookaheadEnd::Cancelled);
    assert_eq!(run.outcome.text, ANSWER[..3].concat());
    assert_eq!(
        settled(&run.events),
        6,
        "three settled steps, text + record each"
    );
    assert_eq!(target.calls().len(), 2);
}

#[test]
fn cancel_during_drafting_stops_before_the_target_runs() {
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &ANSWER).cancelling_on_call(1);
    let mut target = target();
    let cancel = CancelFlag::new();
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings(3),
        &cancel,
    );
    assert_eq!(run.outcome.ended, LookaheadEnd::Cancelled);
    assert_eq!(run.outcome.text, "");
    assert_eq!(settled(&run.events), 0);
    assert_eq!(
        run.events,
        [SchedulerEvent::Stage(Stage::Drafting { step: 0, ahead: 3 })]
    );
    assert!(target.calls().is_empty());
}

#[test]
fn cancel_before_start_does_nothing() {
    let cancel = CancelFlag::new();
    cancel.cancel();
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &ANSWER);
    let mut target = target();
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings(3),
        &cancel,
    );
    assert_eq!(run.outcome.ended, LookaheadEnd::Cancelled);
    assert!(draft.calls().is_empty() && target.calls().is_empty());
}

fn assert_plain_fallback(outcome: &LookaheadOutcome, reason: &str) {
    assert_eq!(
        outcome.text,
        ANSWER.concat(),
        "the answer is the plain answer"
    );
    assert_eq!(outcome.ended, LookaheadEnd::EndOfSequence);
    let fallback = outcome.fallback.as_deref().unwrap_or_default();
    assert!(
        fallback.contains(reason),
        "fallback {fallback:?} should mention {reason:?}"
    );
    assert!(outcome
        .steps
        .iter()
        .all(|s| s.kept_from == KeptFrom::Target));
    assert!(outcome
        .steps
        .iter()
        .all(|s| s.verdict == Verdict::TargetOnly));
}

#[test]
fn draft_failure_falls_back_to_plain_decoding() {
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &ANSWER).failing_on_call(0);
    let run = lookahead(
        &mut draft,
        &mut target(),
        &mut ExactJudge,
        &settings(3),
        &CancelFlag::new(),
    );
    assert_plain_fallback(&run.outcome, "draft model failed");
    assert_eq!(draft.calls().len(), 1, "a failed draft is not asked again");
}

#[test]
fn judge_failure_falls_back_to_plain_decoding() {
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &["Other one.\n\n", "Other two.\n\n"]);
    let mut judge = ScriptedJudge::failing_on_call(0);
    let run = lookahead(
        &mut draft,
        &mut target(),
        &mut judge,
        &settings(3),
        &CancelFlag::new(),
    );
    assert_plain_fallback(&run.outcome, "judge failed");
    assert_eq!(judge.calls().len(), 1);
}

#[test]
fn target_branch_failure_falls_back_to_plain_decoding() {
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &ANSWER);
    let mut target = target().failing_on_batches_over(1);
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings(3),
        &CancelFlag::new(),
    );
    assert_plain_fallback(&run.outcome, "target branch failed");
    assert!(target.calls().iter().skip(1).all(|c| c.len() == 1));
}

#[test]
fn target_failing_alone_is_an_error_not_a_panic() {
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &ANSWER).failing_on_call(0);
    let mut target = target().failing_on_call(0);
    let result = run_lookahead(
        LookaheadModels {
            draft: &mut draft,
            target: &mut target,
            judge: &mut ExactJudge,
        },
        PROMPT,
        &settings(3),
        &Sampling::default(),
        &CancelFlag::new(),
        &mut |_| {},
    );
    let error = result.expect_err("nothing can write the answer");
    assert_eq!(error.code(), "generation_failed");
}

#[test]
fn always_reject_gives_the_plain_answer() {
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &["Nope.\n\n", "Nope again.\n\n"]);
    let run = lookahead(
        &mut draft,
        &mut target(),
        &mut ScriptedJudge::reject_all(),
        &settings(3),
        &CancelFlag::new(),
    );
    assert_eq!(run.outcome.text, plain(&mut target(), &settings(3)).text);
    assert_eq!(run.outcome.stats.accepted_steps, 0);
    assert!(run
        .outcome
        .steps
        .iter()
        .all(|s| s.kept_from == KeptFrom::Target));
}

/// Ten steps; the draft gets the first two wrong and the rest right.
fn ten_step_scripts() -> (ScriptedGenerator, ScriptedGenerator) {
    let steps: Vec<String> = (0..9)
        .map(|i| format!("Step {i}.\n\n"))
        .chain(["Final: 9.".to_string()])
        .collect();
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let draft = ScriptedGenerator::new("draft", PROMPT, &["Wrong 0.\n\n"])
        .also(PROMPT, &[steps[0], "Wrong 1.\n\n"])
        .also(PROMPT, &steps);
    let target = ScriptedGenerator::new("target", PROMPT, &steps);
    (draft, target)
}

#[test]
fn adaptive_gamma_shrinks_after_early_rejections_and_grows_after_full_accepts() {
    let (mut draft, mut target) = ten_step_scripts();
    let settings = LookaheadSettings {
        adaptive_gamma: true,
        ..settings(4)
    };
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings,
        &CancelFlag::new(),
    );
    assert_eq!(run.outcome.stats.gamma_per_round, [4, 3, 2, 3, 4]);
    assert_eq!(run.outcome.text, target_text(&mut target));
}

#[test]
fn pinned_gamma_stays() {
    let (mut draft, mut target) = ten_step_scripts();
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings(4),
        &CancelFlag::new(),
    );
    assert!(run.outcome.stats.gamma_per_round.iter().all(|&g| g == 4));
}

fn target_text(target: &mut ScriptedGenerator) -> String {
    plain(target, &settings(1)).text
}

#[test]
fn slowdown_guard_switches_speculation_off() {
    let (mut draft, mut target) = ten_step_scripts();
    let settings = LookaheadSettings {
        slowdown_guard: true,
        // Nothing is this fast, so every round counts as slower than plain.
        plain_tokens_per_s_estimate: Some(1e15),
        ..settings(1)
    };
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings,
        &CancelFlag::new(),
    );
    let outcome = run.outcome;
    // Each round ran at under half the plain speed and counts twice
    // against the patience of 3.
    assert_eq!(outcome.stats.rounds, 2);
    assert!(outcome.stats.guard_stopped);
    assert!(outcome
        .fallback
        .as_deref()
        .unwrap_or_default()
        .contains("slowdown guard"));
    assert_eq!(outcome.text, target_text(&mut target));
    assert!(outcome.steps[2..]
        .iter()
        .all(|s| s.verdict == Verdict::TargetOnly));
    assert!(outcome.stats.target_only_steps > 0);

    // With a patience of 1 (the engine's choice after an answer that lost
    // time) one round is all speculation gets.
    let (mut draft, mut target) = ten_step_scripts();
    let impatient = LookaheadSettings {
        guard_patience: 1,
        ..settings
    };
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &impatient,
        &CancelFlag::new(),
    );
    assert_eq!(run.outcome.stats.rounds, 1);
    assert_eq!(run.outcome.text, target_text(&mut target));
}

#[test]
fn slowdown_guard_can_be_disabled() {
    let (mut draft, mut target) = ten_step_scripts();
    let settings = LookaheadSettings {
        slowdown_guard: false,
        plain_tokens_per_s_estimate: Some(1e15),
        ..settings(1)
    };
    let run = lookahead(
        &mut draft,
        &mut target,
        &mut ExactJudge,
        &settings,
        &CancelFlag::new(),
    );
    assert_eq!(run.outcome.fallback, None);
    assert_eq!(run.outcome.stats.target_only_steps, 0);
}

#[test]
fn slowdown_guard_estimates_plain_speed_from_the_target() {
    let guarded = LookaheadSettings {
        slowdown_guard: true,
        plain_tokens_per_s_estimate: None,
        ..settings(1)
    };
    // A target that says it decodes a token per second: speculation that
    // takes microseconds per round is far faster, so it stays on.
    let (mut draft, target) = ten_step_scripts();
    let mut slow_target = target.reporting_token_time(Duration::from_secs(1));
    let run = lookahead(
        &mut draft,
        &mut slow_target,
        &mut ExactJudge,
        &guarded,
        &CancelFlag::new(),
    );
    assert_eq!(run.outcome.fallback, None);

    // A target that claims a token per nanosecond cannot be beaten.
    let (mut draft, target) = ten_step_scripts();
    let mut fast_target = target.reporting_token_time(Duration::from_nanos(1));
    let run = lookahead(
        &mut draft,
        &mut fast_target,
        &mut ExactJudge,
        &guarded,
        &CancelFlag::new(),
    );
    assert!(run.outcome.fallback.is_some());
}

#[test]
fn plain_steps_write_the_target_answer() {
    let outcome = plain(&mut target(), &settings(3));
    assert_eq!(outcome.text, ANSWER.concat());
    assert_eq!(outcome.steps.len(), 4);
    assert_eq!(outcome.stats.rounds, 0);
    assert!(outcome
        .steps
        .iter()
        .all(|s| s.verdict == Verdict::TargetOnly));
}

#[test]
fn scripted_generator_reports_tokens_and_ends() {
    use lookahead_engine::{StepEnd, StepRequest};
    let mut model = target();
    let requests = [
        StepRequest {
            context: PROMPT.to_string().into(),
            max_tokens: 100,
            stop_at_delimiter: true,
            hint: None,
        },
        StepRequest {
            context: PROMPT.to_string().into(),
            max_tokens: 4,
            stop_at_delimiter: true,
            hint: None,
        },
        StepRequest {
            context: format!("{PROMPT}{}", ANSWER[..3].concat()).into(),
            max_tokens: 100,
            stop_at_delimiter: true,
            hint: None,
        },
    ];
    let outputs = model
        .continue_steps(
            &requests,
            &Sampling::default(),
            &CancelFlag::new(),
            &mut |_, _| {},
        )
        .expect("scripted");
    assert_eq!(
        (outputs[0].text.as_str(), outputs[0].end),
        ("Step one.\n\n", Some(StepEnd::Delimiter))
    );
    assert_eq!(
        (outputs[1].text.as_str(), outputs[1].end),
        ("Step", Some(StepEnd::Budget))
    );
    assert_eq!(
        (outputs[2].text.as_str(), outputs[2].end),
        ("Final: 7", Some(StepEnd::EndOfSequence))
    );
}

/// The scheduler on a real model: SmolLM2-135M through mistral.rs, drafting
/// for itself (it is the only tiny model whose tokenizer it can pair with).
mod smollm2 {
    use std::path::PathBuf;
    use std::sync::{Mutex, MutexGuard, OnceLock};

    use lookahead_engine::parts::chat_prompt;
    use lookahead_engine::parts::ExactJudge;
    use lookahead_engine::parts::MistralGenerator;
    use lookahead_engine::parts::ScriptedJudge;
    use lookahead_engine::parts::{
        run_lookahead, run_plain_steps, LookaheadEnd, LookaheadModels, LookaheadSettings,
    };
    use lookahead_engine::{CancelFlag, Sampling, StepGenerator, StepRequest};
    use lookahead_models::{self as models, Role};

    /// A question SmolLM2 answers in short steps with blank lines between
    /// them (its word problems come as one long paragraph, which a step
    /// budget would cut, and cut drafts are never accepted).
    const QUESTION: &str = "Write the numbers from 1 to 4, each on its own paragraph.";

    fn model_path() -> PathBuf {
        models::fetched(Role::Tiny).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Two instances of the model (draft, target), loaded once per test
    /// binary and shared by the tests below, one at a time.
    fn pair() -> MutexGuard<'static, (MistralGenerator, MistralGenerator)> {
        static PAIR: OnceLock<Mutex<(MistralGenerator, MistralGenerator)>> = OnceLock::new();
        PAIR.get_or_init(|| {
            let path = model_path();
            let draft = MistralGenerator::load(&path, "draft").expect("SmolLM2 loads as draft");
            let target = MistralGenerator::load(&path, "target").expect("SmolLM2 loads as target");
            Mutex::new((draft, target))
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn settings() -> LookaheadSettings {
        LookaheadSettings {
            gamma: 2,
            step_token_budget: 40,
            max_answer_tokens: 60,
            adaptive_gamma: false,
            slowdown_guard: false,
            ..LookaheadSettings::default()
        }
    }

    #[test]
    fn always_reject_gives_the_plain_greedy_answer() {
        let mut models = pair();
        let (draft, target) = &mut *models;
        let prompt = chat_prompt(QUESTION);
        let settings = settings();
        let sampling = Sampling::default();
        let cancel = CancelFlag::new();
        let plain = run_plain_steps(target, &prompt, &settings, &sampling, &cancel, &mut |_| {})
            .expect("plain answer");
        let mut judge = ScriptedJudge::reject_all();
        let lr = run_lookahead(
            LookaheadModels {
                draft,
                target,
                judge: &mut judge,
            },
            &prompt,
            &settings,
            &sampling,
            &cancel,
            &mut |_| {},
        )
        .expect("lookahead answer");
        eprintln!(
            "plain {:.1}s, lr {:.1}s, {} rounds, {} steps",
            plain.stats.wall_seconds,
            lr.stats.wall_seconds,
            lr.stats.rounds,
            lr.steps.len()
        );
        assert!(!plain.text.is_empty());
        assert_eq!(lr.text, plain.text);
        assert_eq!(lr.stats.accepted_steps, 0);
        assert_eq!(lr.fallback, None);
        assert!(lr.stats.rounds > 0);

        // For the record: does step-by-step greedy match one uninterrupted
        // greedy run? (Re-tokenizing at step boundaries can change it.)
        let whole = target
            .continue_steps(
                &[StepRequest {
                    context: prompt.clone().into(),
                    max_tokens: settings.max_answer_tokens,
                    stop_at_delimiter: false,
                    hint: None,
                }],
                &sampling,
                &cancel,
                &mut |_, _| {},
            )
            .expect("one-shot answer");
        let whole = whole.first().map(|o| o.text.clone()).unwrap_or_default();
        eprintln!(
            "step-wise plain == one-shot greedy: {} ({:?} vs {:?})",
            whole == plain.text,
            plain.text,
            whole
        );
    }

    #[test]
    fn identical_draft_with_exact_judge_is_always_accepted() {
        let mut models = pair();
        let (draft, target) = &mut *models;
        let prompt = chat_prompt(QUESTION);
        let settings = settings();
        let sampling = Sampling::default();
        let cancel = CancelFlag::new();
        let lr = run_lookahead(
            LookaheadModels {
                draft,
                target,
                judge: &mut ExactJudge,
            },
            &prompt,
            &settings,
            &sampling,
            &cancel,
            &mut |_| {},
        )
        .expect("lookahead answer");
        let plain = run_plain_steps(target, &prompt, &settings, &sampling, &cancel, &mut |_| {})
            .expect("plain answer");
        let stats = &lr.stats;
        eprintln!(
            "drafted {}, judged {}, accepted {}, unfinished {}, rounds {}, batch sizes {:?}, \
             lr {:.1}s (draft {:.1}s, target {:.1}s, judge {:.3}s), plain {:.1}s",
            stats.drafted_steps,
            stats.judged_steps,
            stats.accepted_steps,
            stats.unfinished_drafts,
            stats.rounds,
            stats.target_batch_sizes,
            stats.wall_seconds,
            stats.draft_seconds,
            stats.target_seconds,
            stats.judge_seconds,
            plain.stats.wall_seconds
        );
        assert!(stats.accepted_steps > 0);
        assert_eq!(
            stats.judged_steps, stats.accepted_steps,
            "every judged draft accepted"
        );
        // Drafts cut by the step or answer budget are rejected unjudged.
        assert_eq!(
            stats.drafted_steps,
            stats.accepted_steps + stats.unfinished_drafts
        );
        assert_eq!(lr.text, plain.text);
        assert!(matches!(
            lr.ended,
            LookaheadEnd::EndOfSequence | LookaheadEnd::TokenBudget
        ));
    }
}
