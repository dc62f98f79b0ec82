//! How fast this computer answers: the plain-decoding yardstick every
//! answer is compared with ("1.3× faster than usual"), and the automatic
//! mode's choice of how to answer.
//!
//! The yardstick is measured, not assumed: a short calibration when the
//! models are loaded ([`crate::Engine::measure_plain_speed`]), then refined
//! by the plain answers themselves (the caller keeps them; the app's store
//! does). An answer's speed-up is the time plain decoding would have taken
//! for the same prompt and answer length, divided by the time it took, so
//! short and long answers compare fairly.

use crate::answer::Mode;

pub use lookahead_domain::PlainSpeed;

/// Answers per mode that "auto" measures before it trusts that mode's
/// measured speed-up over its expected one.
pub const AUTO_TRIALS: usize = 2;

/// "Auto" tries a mode it has not measured enough on one answer in this
/// many, never on the first ones.
pub const EXPLORE_EVERY: usize = 10;

/// The speed-up each mode is expected to give before this computer has
/// measured it: the ranking measured on a 2-core CPU with the default
/// pair (BENCHMARKS.md: n-gram word drafting 1.32× plain, step drafting
/// 0.43×, both 0.51×). A new user's first answers use the best of these.
/// The step modes stay below plain on purpose although the slowdown
/// guard's pauses have since brought them to 0.97× and 1.12× over 100
/// questions (most answers then run without step drafting): where word
/// drafting measures slower than plain, an unmeasured step mode must not
/// look like the way out.
pub fn expected_speedup(mode: Mode) -> f64 {
    match mode {
        Mode::Plain => 1.0,
        Mode::Sd => 1.3,
        Mode::SdLr => 0.5,
        Mode::Lr => 0.45,
    }
}

/// What this computer has measured of one mode with the current models.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModeRecord {
    pub mode: Mode,
    /// Answers in this mode so far (all of them, not only the recent ones).
    pub answers: usize,
    /// Mean speed-up of its recent answers, where one was estimated.
    pub mean_speedup: Option<f64>,
}

/// The automatic mode's choice for the next answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoChoice {
    pub mode: Mode,
    /// The mode is being tried out, not chosen for its speed: the answer
    /// should run with the slowdown guard at its strictest.
    pub exploring: bool,
}

/// Chooses the mode for the next answer among `available`: the one with
/// the best speed-up, measured where this computer has measured it and
/// expected ([`expected_speedup`]) where not. On one answer in
/// [`EXPLORE_EVERY`] a mode measured fewer than [`AUTO_TRIALS`] times is
/// tried instead (the most promising first), so a mode that would pay on
/// this computer is found without making the first answers slow. Plain is
/// the yardstick (1.0×) and never needs trying.
pub fn choose_mode(available: &[Mode], measured: &[ModeRecord]) -> AutoChoice {
    let record = |mode: Mode| measured.iter().find(|r| r.mode == mode);
    let candidates = || {
        Mode::ALL
            .iter()
            .copied()
            .filter(|m| *m == Mode::Plain || available.contains(m))
    };
    let score = |mode: Mode| {
        if mode == Mode::Plain {
            return 1.0;
        }
        record(mode)
            .and_then(|r| r.mean_speedup.filter(|_| r.answers > 0))
            .unwrap_or_else(|| expected_speedup(mode))
    };
    let best = candidates()
        .max_by(|a, b| score(*a).total_cmp(&score(*b)))
        .unwrap_or(Mode::Plain);
    let answered: usize = measured.iter().map(|r| r.answers).sum();
    if (answered + 1).is_multiple_of(EXPLORE_EVERY) {
        let mut untried: Vec<Mode> = candidates()
            .filter(|m| *m != Mode::Plain && *m != best)
            .filter(|m| record(*m).is_none_or(|r| r.answers < AUTO_TRIALS))
            .collect();
        untried.sort_by(|a, b| score(*b).total_cmp(&score(*a)));
        if let Some(mode) = untried.first() {
            return AutoChoice {
                mode: *mode,
                exploring: true,
            };
        }
    }
    AutoChoice {
        mode: best,
        exploring: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::AnswerMetrics;

    const ALL: &[Mode] = Mode::ALL;

    fn rec(mode: Mode, answers: usize, mean_speedup: f64) -> ModeRecord {
        ModeRecord {
            mode,
            answers,
            mean_speedup: Some(mean_speedup),
        }
    }

    fn metrics(prompt: usize, answer: usize, seconds: f64) -> AnswerMetrics {
        AnswerMetrics {
            prompt_tokens: prompt,
            generated_tokens: answer,
            wall_seconds: seconds,
            ..AnswerMetrics::default()
        }
    }

    #[test]
    fn speedup_is_plain_time_for_the_same_work_over_the_time_taken() {
        let plain = PlainSpeed::new(50.0, 10.0).unwrap();
        // 100 prompt tokens (2 s) + 100 answer tokens (10 s) = 12 s plain.
        assert!((plain.seconds_for(100, 100) - 12.0).abs() < 1e-9);
        let s = plain.speedup(&metrics(100, 100, 6.0)).unwrap();
        assert!((s - 2.0).abs() < 1e-9, "{s}");
        let s = plain.speedup(&metrics(100, 100, 24.0)).unwrap();
        assert!((s - 0.5).abs() < 1e-9, "{s}");
        assert_eq!(plain.speedup(&metrics(100, 0, 3.0)), None);
        assert_eq!(plain.speedup(&metrics(100, 10, 0.0)), None);
    }

    #[test]
    fn a_speed_needs_two_positive_rates() {
        assert!(PlainSpeed::new(0.0, 10.0).is_none());
        assert!(PlainSpeed::new(10.0, f64::NAN).is_none());
        assert!(PlainSpeed::new(10.0, -1.0).is_none());
        let m = AnswerMetrics {
            prefill_tokens_per_s: 40.0,
            decode_tokens_per_s: 11.0,
            ..AnswerMetrics::default()
        };
        assert_eq!(
            PlainSpeed::of_answer(&m),
            Some(PlainSpeed {
                prefill_tokens_per_s: 40.0,
                decode_tokens_per_s: 11.0
            })
        );
    }

    #[test]
    fn a_new_user_starts_with_the_fastest_expected_mode_never_a_slow_one() {
        let first = choose_mode(ALL, &[]);
        assert_eq!(
            first,
            AutoChoice {
                mode: Mode::Sd,
                exploring: false
            }
        );
        // Without a draft model: word drafting from the text still works.
        assert_eq!(choose_mode(&[Mode::Plain, Mode::Sd], &[]).mode, Mode::Sd);
        assert_eq!(choose_mode(&[Mode::Plain], &[]).mode, Mode::Plain);
        // The first nine answers all take the expected best.
        for answered in 0..EXPLORE_EVERY - 1 {
            let m = [rec(Mode::Sd, answered, 1.3)];
            assert_eq!(choose_mode(ALL, &m).mode, Mode::Sd, "answer {answered}");
        }
    }

    #[test]
    fn one_answer_in_ten_tries_an_unmeasured_mode_most_promising_first() {
        let m = [rec(Mode::Sd, EXPLORE_EVERY - 1, 1.3)];
        assert_eq!(
            choose_mode(ALL, &m),
            AutoChoice {
                mode: Mode::SdLr,
                exploring: true
            }
        );
        let m = [
            rec(Mode::Sd, 2 * EXPLORE_EVERY - 2, 1.3),
            rec(Mode::SdLr, 1, 0.6),
        ];
        // sd+lr measured once at 0.6×: tried again before lr (0.45×).
        assert_eq!(choose_mode(ALL, &m).mode, Mode::SdLr);
        let m = [
            rec(Mode::Sd, 3 * EXPLORE_EVERY - 3, 1.3),
            rec(Mode::SdLr, AUTO_TRIALS, 0.6),
        ];
        assert_eq!(choose_mode(ALL, &m).mode, Mode::Lr);
        // Everything tried: no more exploring.
        let m = [
            rec(Mode::Sd, 4 * EXPLORE_EVERY - 5, 1.3),
            rec(Mode::SdLr, AUTO_TRIALS, 0.6),
            rec(Mode::Lr, AUTO_TRIALS, 0.5),
        ];
        assert_eq!(
            choose_mode(ALL, &m),
            AutoChoice {
                mode: Mode::Sd,
                exploring: false
            }
        );
    }

    #[test]
    fn measured_speed_ups_replace_the_expected_ones() {
        // On a computer where step drafting pays, auto moves to it.
        let m = [rec(Mode::Sd, 5, 1.2), rec(Mode::SdLr, 2, 1.7)];
        assert_eq!(choose_mode(ALL, &m).mode, Mode::SdLr);
        // Where word drafting loses, plain is kept.
        let m = [rec(Mode::Sd, 5, 0.8)];
        assert_eq!(choose_mode(ALL, &m).mode, Mode::Plain);
        // A mode that is not available is never chosen, however fast.
        let m = [rec(Mode::Lr, 5, 3.0)];
        assert_eq!(choose_mode(&[Mode::Plain, Mode::Sd], &m).mode, Mode::Sd);
    }
}
