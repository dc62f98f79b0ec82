//! Token-level speculation: greedy output equals plain decoding with each
//! proposer (lookup, a draft model, both), several requests speculate in
//! the same passes, counters add up, incompatible models are refused.

use lookahead_engine::parts::ExecutorGenerator;
use lookahead_engine::parts::{run_plain_steps, LookaheadSettings};
use lookahead_engine::parts::{NgramConfig, SpeculationConfig, SpeculativeGenerator};
use lookahead_engine::{
    CancelFlag, Context, EngineError, GeneratorStats, Piece, Sampling, StepGenerator, StepOutput,
    StepRequest,
};
use lookahead_executor::ExecutorOptions;

use crate::common::{load, smol, QUESTION, QWEN_DRAFT};
use crate::generator::{requests, run};

fn check_counters(stats: &GeneratorStats) {
    assert!(stats.verification_rounds > 0, "{stats:?}");
    assert!(stats.drafted_tokens > 0);
    assert!(stats.accepted_tokens <= stats.drafted_tokens);
    assert_eq!(
        stats.proposed_per_position.iter().sum::<usize>(),
        stats.drafted_tokens
    );
    assert_eq!(
        stats.accepted_per_position.iter().sum::<usize>(),
        stats.accepted_tokens
    );
    for (a, p) in stats
        .accepted_per_position
        .iter()
        .zip(&stats.proposed_per_position)
    {
        assert!(a <= p);
    }
}

/// The same steps, token counts and stop reasons.
fn assert_same(expected: &[StepOutput], got: &[StepOutput]) {
    assert_eq!(expected.len(), got.len());
    for (e, g) in expected.iter().zip(got) {
        assert_eq!((&e.text, e.tokens, e.end), (&g.text, g.tokens, g.end));
    }
}

#[test]
fn ngram_speculation_equals_plain_greedy() {
    let reqs = requests(60);
    let mut plain = ExecutorGenerator::new(smol());
    let expected = run(&mut plain, &reqs, &Sampling::default());
    let plain_passes = plain.take_stats().forward_passes;

    let mut spec = SpeculativeGenerator::with_ngram(
        smol(),
        NgramConfig::default(),
        SpeculationConfig {
            min_k: 1,
            ..SpeculationConfig::default()
        },
    );
    let got = run(&mut spec, &reqs, &Sampling::default());
    assert_same(&expected, &got);
    let stats = spec.take_stats();
    check_counters(&stats);
    assert!(
        stats.forward_passes <= plain_passes,
        "accepted guesses save passes: {} vs {plain_passes}",
        stats.forward_passes
    );
    assert_eq!(
        stats.generated_tokens,
        got.iter().map(|o| o.tokens).sum::<usize>()
    );
}

/// Continues the question's chat ending in each of `endings` with plain
/// decoding and with lookup under `config(true)` and `config(false)`: the
/// same output every time; the counters with the proposer on, then off.
fn proposer_on_and_off(
    endings: &[&str],
    config: impl Fn(bool) -> NgramConfig,
) -> [GeneratorStats; 2] {
    let base = crate::common::chat(QUESTION);
    let reqs: Vec<StepRequest> = endings
        .iter()
        .map(|ending| StepRequest {
            context: format!("{base}{ending}").into(),
            max_tokens: 24,
            stop_at_delimiter: true,
            hint: None,
        })
        .collect();
    let mut plain = ExecutorGenerator::new(smol());
    let expected = run(&mut plain, &reqs, &Sampling::default());
    let speculation = SpeculationConfig {
        min_k: 1,
        ..SpeculationConfig::default()
    };
    [true, false].map(|on| {
        let mut spec = SpeculativeGenerator::with_ngram(smol(), config(on), speculation.clone());
        let got = run(&mut spec, &reqs, &Sampling::default());
        assert_same(&expected, &got);
        let stats = spec.take_stats();
        check_counters(&stats);
        stats
    })
}

#[test]
fn sums_results_are_guessed_and_change_nothing() {
    // Steps that end with a sum waiting for its result: the calculator
    // guesses it, the model's own tokens are kept.
    let endings = [
        "In April, Natalia sold 48 clips.\n\nIn May, she sold half as many: 48 / 2 =",
        "Altogether she sold 48 + 24 =",
        "At $3 a clip, 72 clips make 72 × 3 = $",
    ];
    let [on, off] = proposer_on_and_off(&endings, |sum_results| NgramConfig {
        sum_results,
        ..NgramConfig::default()
    });
    // " 24", " 72" and "216": a token or more each.
    assert!(on.sum_drafted_tokens >= endings.len(), "{on:?}");
    assert!(on.sum_accepted_tokens <= on.sum_drafted_tokens);
    assert_eq!(off.sum_drafted_tokens, 0, "{off:?}");
}

#[test]
fn the_next_number_of_a_list_is_guessed_and_changes_nothing() {
    // Texts that end an item of a numbered list: the next number is
    // guessed first, the model's own tokens are kept.
    let [on, off] = proposer_on_and_off(
        &[
            "1. In April, Natalia sold 48 clips.\n\n",
            "We follow these steps:\n1. Find the clips sold in May.\n",
        ],
        |next_numbers| NgramConfig {
            next_numbers,
            ..NgramConfig::default()
        },
    );
    // The first guesses differ ("2." against what lookup saw follow).
    assert_ne!(on.proposed_per_position, off.proposed_per_position);
}

#[test]
fn words_checked_past_a_steps_end_start_the_next_step() {
    let base = crate::common::chat(QUESTION);
    let step = |context: Context, hint: Option<Piece>| StepRequest {
        context,
        max_tokens: 48,
        stop_at_delimiter: true,
        hint,
    };
    let mut plain = ExecutorGenerator::new(smol());
    let first = run(
        &mut plain,
        &[step(base.as_str().into(), None)],
        &Sampling::default(),
    )
    .remove(0);
    // The next step continues the tokens as written (as the scheduler's
    // requests do), not the text encoded again.
    let context = Context::from(base.as_str()).then(first.piece());
    let second = run(&mut plain, &[step(context, None)], &Sampling::default()).remove(0);
    assert!(first.text.ends_with("\n\n") && !second.text.is_empty());
    let config = |carry_ahead| SpeculationConfig {
        min_k: 1,
        carry_ahead,
        ..SpeculationConfig::default()
    };
    // The model's own two steps, as it wrote them, as the hint: guesses
    // run on across the blank line that ends the first.
    let ids = |o: &StepOutput| o.ids.clone().expect("ids");
    let mut hint_ids = ids(&first);
    hint_ids.ids.extend(ids(&second).ids);
    let hint = Piece::written(format!("{}{}", first.text, second.text), hint_ids);
    for carry in [true, false] {
        let mut spec =
            SpeculativeGenerator::with_ngram(smol(), NgramConfig::default(), config(carry));
        let got = run(
            &mut spec,
            &[step(base.as_str().into(), Some(hint.clone()))],
            &Sampling::default(),
        );
        assert_same(std::slice::from_ref(&first), &got);
        let ahead = got[0].ahead.as_ref().map(|a| a.ids.clone());
        assert_eq!(
            spec.take_stats().ahead_tokens,
            ahead.as_ref().map_or(0, Vec::len)
        );
        if carry {
            // What it says comes next is what plain decoding wrote next.
            let ahead = ahead.expect("words checked past the step's end");
            let next = &second.ids.as_ref().expect("ids").ids;
            assert!(next.starts_with(&ahead), "{ahead:?} vs {next:?}");
        } else {
            assert_eq!(ahead, None);
        }
    }

    // Whole answers, with the model's own answer as an earlier one: the
    // same steps, and fewer passes where checked words start a step.
    let settings = LookaheadSettings {
        max_answer_tokens: 200,
        ..LookaheadSettings::default()
    };
    let answer = |gen: &mut dyn StepGenerator| {
        run_plain_steps(
            gen,
            base.as_str(),
            &settings,
            &Sampling::default(),
            &CancelFlag::new(),
            &mut |_| {},
        )
        .expect("answer")
    };
    let expected = answer(&mut ExecutorGenerator::new(smol()));
    assert!(expected.steps.len() >= 3, "{:?}", expected.text);
    let earlier = [expected.text.clone()];
    let mut runs = Vec::new();
    for carry in [true, false] {
        let mut spec =
            SpeculativeGenerator::with_ngram(smol(), NgramConfig::default(), config(carry))
                .with_earlier_answers(&earlier)
                .expect("encoded");
        let got = answer(&mut spec);
        assert_eq!(got.text, expected.text);
        assert_eq!(got.steps.len(), expected.steps.len());
        let stats = spec.take_stats();
        check_counters(&stats);
        runs.push((stats.forward_passes, stats.ahead_tokens));
    }
    let [(with, carried), (without, none)] = runs[..] else {
        unreachable!()
    };
    assert!(carried > 0 && none == 0, "{runs:?}");
    assert!(with < without, "{runs:?}");
}

#[test]
fn earlier_answers_guess_words_and_change_nothing() {
    // The model's own earlier answers to the same requests: the best case
    // for the proposer, and the output must still be plain greedy's.
    let reqs = requests(40);
    let mut plain = ExecutorGenerator::new(smol());
    let expected = run(&mut plain, &reqs, &Sampling::default());
    let earlier: Vec<String> = expected.iter().rev().map(|o| o.text.clone()).collect();
    let config = SpeculationConfig {
        min_k: 1,
        ..SpeculationConfig::default()
    };
    let mut alone =
        SpeculativeGenerator::with_ngram(smol(), NgramConfig::default(), config.clone());
    run(&mut alone, &reqs, &Sampling::default());
    let alone = alone.take_stats();
    let mut spec = SpeculativeGenerator::with_ngram(smol(), NgramConfig::default(), config)
        .with_earlier_answers(&earlier)
        .expect("encoded");
    let got = run(&mut spec, &reqs, &Sampling::default());
    assert_same(&expected, &got);
    let stats = spec.take_stats();
    check_counters(&stats);
    assert!(
        stats.accepted_tokens > alone.accepted_tokens
            && stats.forward_passes < alone.forward_passes,
        "earlier answers: {} tokens accepted in {} passes; the text alone: {} in {}",
        stats.accepted_tokens,
        stats.forward_passes,
        alone.accepted_tokens,
        alone.forward_passes
    );
}

#[test]
fn draft_model_speculation_equals_plain_greedy() {
    // SmolLM2 drafting for itself: every guess must be accepted (the two
    // compute the same logits), which exercises bonus tokens and the draft
    // cache catching up after a fully accepted round.
    let reqs = requests(50);
    let mut plain = ExecutorGenerator::new(smol());
    let expected = run(&mut plain, &reqs, &Sampling::default());

    let mut spec = SpeculativeGenerator::with_draft(smol(), smol(), SpeculationConfig::default())
        .expect("same tokenizer");
    let got = run(&mut spec, &reqs, &Sampling::default());
    assert_same(&expected, &got);
    let stats = spec.take_stats();
    check_counters(&stats);
    assert_eq!(stats.accepted_tokens, stats.drafted_tokens, "{stats:?}");

    // A second call continues from cached prefixes in both models.
    let next: Vec<_> = reqs
        .iter()
        .zip(&got)
        .map(|(r, o)| lookahead_engine::StepRequest {
            context: format!("{}{}", r.text(), o.text).into(),
            ..r.clone()
        })
        .collect();
    let expected = run(&mut plain, &next, &Sampling::default());
    let got = run(&mut spec, &next, &Sampling::default());
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!((&e.text, e.tokens, e.end), (&g.text, g.tokens, g.end));
        assert!(g.prefill_tokens <= 4, "prefix reused: {}", g.prefill_tokens);
    }
}

#[test]
fn lookup_then_draft_speculation_equals_plain_greedy() {
    // Lookup guesses where the text repeats, SmolLM2 drafting for itself
    // elsewhere: its cache catches up on the words lookup supplied, and
    // every guess of its own holds (the two compute the same logits).
    let reqs = requests(60);
    let mut plain = ExecutorGenerator::new(smol());
    let expected = run(&mut plain, &reqs, &Sampling::default());

    let mut spec = SpeculativeGenerator::with_ngram_and_draft(
        smol(),
        NgramConfig::default(),
        smol(),
        SpeculationConfig::default(),
    )
    .expect("same tokenizer");
    let got = run(&mut spec, &reqs, &Sampling::default());
    assert_same(&expected, &got);
    let stats = spec.take_stats();
    check_counters(&stats);
    assert!(
        stats.model_drafted_tokens > 0 && stats.model_drafted_tokens < stats.drafted_tokens,
        "both kinds of guesses: {stats:?}"
    );
    assert_eq!(
        stats.model_accepted_tokens, stats.model_drafted_tokens,
        "{stats:?}"
    );
}

#[test]
fn sampled_speculation_is_reproducible() {
    let reqs = requests(30);
    let sampling = Sampling {
        temperature: 0.7,
        top_p: 0.9,
        seed: 11,
    };
    let mut a = SpeculativeGenerator::with_ngram(
        smol(),
        NgramConfig::default(),
        SpeculationConfig::default(),
    );
    let mut b =
        SpeculativeGenerator::with_draft(smol(), smol(), SpeculationConfig::default()).unwrap();
    let first = run(&mut a, &reqs, &sampling);
    let again = run(
        &mut SpeculativeGenerator::with_ngram(
            smol(),
            NgramConfig::default(),
            SpeculationConfig::default(),
        ),
        &reqs,
        &sampling,
    );
    for (x, y) in first.iter().zip(&again) {
        assert_eq!(x.text, y.text);
    }
    let drafted = run(&mut b, &reqs, &sampling);
    assert!(drafted.iter().all(|o| o.tokens > 0));
    let stats = b.take_stats();
    // Same model drafting: p = q, so every guess is accepted.
    assert_eq!(stats.accepted_tokens, stats.drafted_tokens);
}

#[test]
fn a_draft_with_another_vocabulary_is_refused() {
    let target = smol();
    let draft = load(QWEN_DRAFT, ExecutorOptions::default());
    match SpeculativeGenerator::with_draft(target, draft, SpeculationConfig::default()) {
        Err(EngineError::TokenizerMismatch {
            draft,
            target,
            detail,
        }) => {
            assert!(draft.contains("qwen2.5-coder-0.5b"), "{draft}");
            assert!(target.contains("SmolLM2"), "{target}");
            assert!(
                detail.contains("49152") && detail.contains("151936"),
                "{detail}"
            );
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("accepted models with different vocabularies"),
    }
}
