//! The arithmetic check and the calculator in the loop, on scripted models:
//! every sum in a kept step is worked out again; with the calculator on, a
//! wrong result is replaced and the model goes on from the corrected text.
//! No model files needed.

use lookahead_engine::parts::ExactJudge;
use lookahead_engine::parts::ScriptedGenerator;
use lookahead_engine::parts::{
    run_lookahead, run_plain_steps, LookaheadEnd, LookaheadModels, LookaheadSettings,
    SchedulerEvent,
};
use lookahead_engine::{CancelFlag, Sampling};

const PROMPT: &str = "<|im_start|>user\nHow many pens?<|im_end|>\n<|im_start|>assistant\n";

/// The model's own answer, with a wrong product in its first step.
const WRONG: [&str; 2] = [
    "Each box holds 13 × 4 = 54 pens, and 2 boxes hold 108.\n\n",
    "So there are \\boxed{108} pens.",
];

/// How the same model goes on once "54" has been replaced by "52".
const AFTER_FIX: [&str; 2] = [
    "Each box holds 13 × 4 = 52 pens, and 2 boxes hold 104.\n\n",
    "So there are \\boxed{104} pens.",
];

fn settings(calculator: bool) -> LookaheadSettings {
    LookaheadSettings {
        adaptive_gamma: false,
        slowdown_guard: false,
        correct_arithmetic: calculator,
        ..LookaheadSettings::default()
    }
}

fn model() -> ScriptedGenerator {
    ScriptedGenerator::new("target", PROMPT, &WRONG)
        .also(PROMPT, &AFTER_FIX)
        .strict()
}

fn plain(
    target: &mut ScriptedGenerator,
    settings: &LookaheadSettings,
) -> (
    lookahead_engine::parts::LookaheadOutcome,
    Vec<SchedulerEvent>,
) {
    let mut events = Vec::new();
    let outcome = run_plain_steps(
        target,
        PROMPT,
        settings,
        &Sampling::default(),
        &CancelFlag::new(),
        &mut |e| events.push(e),
    )
    .expect("plain run");
    (outcome, events)
}

#[test]
fn a_wrong_sum_is_flagged_with_the_right_value_and_left_as_written() {
    let (outcome, _) = plain(&mut model(), &settings(false));
    assert_eq!(outcome.text, WRONG.concat());
    let checks = &outcome.steps[0].arithmetic;
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert!(!checks[0].correct);
    assert!(!checks[0].corrected);
    assert_eq!(checks[0].describe(), "13 × 4 = 54 — it is 52");
    assert_eq!(outcome.stats.corrections, 0);
}

#[test]
fn the_calculator_replaces_a_wrong_result_and_the_model_goes_on_from_it() {
    let mut target = model();
    let (outcome, events) = plain(&mut target, &settings(true));
    assert_eq!(outcome.text, AFTER_FIX.concat());
    assert_eq!(outcome.ended, LookaheadEnd::EndOfSequence);
    assert_eq!(outcome.stats.corrections, 1);
    // The corrected step and its continuation are one step, as written.
    assert_eq!(outcome.steps.len(), 2, "{:?}", outcome.steps);
    assert_eq!(outcome.steps[0].text, AFTER_FIX[0]);
    let fix = &outcome.steps[0].arithmetic[0];
    assert!(fix.corrected);
    assert_eq!(fix.describe(), "13 × 4 = 52: corrected 54 → 52");
    // The model was asked to go on from the corrected value.
    let asked: Vec<String> = target.calls().iter().map(|c| c[0].text()).collect();
    assert!(
        asked.contains(&format!("{PROMPT}Each box holds 13 × 4 = 52")),
        "{asked:?}"
    );
    // The last event for each step index is the step as kept.
    let mut last = std::collections::BTreeMap::new();
    for e in &events {
        if let SchedulerEvent::Step(s) = e {
            last.insert(s.index, s.clone());
        }
    }
    assert_eq!(last.into_values().collect::<Vec<_>>(), outcome.steps);
}

/// A right value that begins the wrong one ("96" of "960"): the model is
/// asked to go on after the finished number, not from "= 96", where it
/// would write the "0" it had in mind.
#[test]
fn a_corrected_value_is_a_finished_number() {
    let wrong = [
        "Each box holds 12 × 8 = 960 pens, so 2 boxes hold 1920.\n\n",
        "So there are \\boxed{1920} pens.",
    ];
    let after_fix = [
        "Each box holds 12 × 8 = 96 pens, so 2 boxes hold 192.\n\n",
        "So there are \\boxed{192} pens.",
    ];
    // Earlier texts win: from "= 96" this model goes on with "0 pens".
    let mut target = ScriptedGenerator::new("target", PROMPT, &wrong)
        .also(PROMPT, &after_fix)
        .strict();
    let (outcome, _) = plain(&mut target, &settings(true));
    assert_eq!(outcome.text, after_fix.concat());
    assert_eq!(
        outcome.steps[0].arithmetic[0].describe(),
        "12 × 8 = 96: corrected 960 → 96"
    );
    let asked: Vec<String> = target.calls().iter().map(|c| c[0].text()).collect();
    assert!(
        asked.contains(&format!("{PROMPT}Each box holds 12 × 8 = 96 ")),
        "{asked:?}"
    );
}

#[test]
fn right_sums_pass_and_change_nothing() {
    let right = ["Each box holds 13 × 4 = 52 pens.\n\n", "So \\boxed{104}."];
    let mut target = ScriptedGenerator::new("target", PROMPT, &right).strict();
    let (outcome, _) = plain(&mut target, &settings(true));
    assert_eq!(outcome.text, right.concat());
    assert_eq!(outcome.stats.corrections, 0);
    assert!(outcome.steps[0].arithmetic[0].correct);
}

#[test]
fn a_kept_drafted_step_with_a_wrong_sum_is_corrected_and_later_drafts_dropped() {
    // The draft writes the same wrong step as the target and one more; the
    // exact judge keeps the first, which the calculator then corrects, so
    // the second drafted step (written after the wrong value) must go.
    let mut draft = ScriptedGenerator::new("draft", PROMPT, &WRONG).also(PROMPT, &AFTER_FIX);
    let mut target = model();
    let mut judge = ExactJudge::new();
    let outcome = run_lookahead(
        LookaheadModels {
            draft: &mut draft,
            target: &mut target,
            judge: &mut judge,
        },
        PROMPT,
        &LookaheadSettings {
            gamma: 2,
            ..settings(true)
        },
        &Sampling::default(),
        &CancelFlag::new(),
        &mut |_| {},
    )
    .expect("lookahead run");
    assert_eq!(outcome.text, AFTER_FIX.concat());
    assert!(outcome.stats.corrections >= 1);
    assert!(!outcome.text.contains("108"));
}
