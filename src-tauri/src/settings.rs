//! The user's settings, as the UI edits them, and how they turn into engine
//! options.

use lookahead_engine::models::{self, Role};
use lookahead_engine::{AskOptions, EngineConfig, JudgeChoice, Mode, Sampling};
use serde::{Deserialize, Serialize};

use crate::error::{CommandError, CommandResult};

/// Answers per mode that "auto" measures before it compares modes.
pub const AUTO_TRIALS: i64 = 2;

/// How fast one mode has answered recently with the current models.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeasuredSpeed {
    pub mode: Mode,
    pub answers: i64,
    pub tokens_per_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub draft_model_path: Option<String>,
    pub target_model_path: Option<String>,
    /// Which model answers the LLM judge: "draft", "target" or "embedding".
    pub judge_model: String,
    /// "auto", "plain", "sd", "lr" or "sd+lr".
    pub mode: String,
    pub gamma: usize,
    /// What guesses the next words in word drafting (sd mode): "ngram"
    /// (repeats of the text so far) or "draft" (the helper model). Step +
    /// word drafting always guesses from the text: the helper is busy
    /// drafting steps.
    pub sd_proposer: String,
    /// "llm" or "embed".
    pub judge_kind: String,
    pub embed_threshold: f64,
    pub step_token_budget: usize,
    pub max_answer_tokens: usize,
    /// The calculator in the loop: a wrong result the model writes is
    /// replaced by the exact value before it goes on.
    pub calculator: bool,
    /// "system", "light" or "dark".
    pub theme: String,
    pub font_scale: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            draft_model_path: None,
            target_model_path: None,
            judge_model: "embedding".into(),
            mode: "auto".into(),
            gamma: 4,
            // Word drafting runs on the CPU executor, where the helper costs
            // 0.6 of the main model per token: guessing from the text so far
            // won 1.32× plain on ten GSM8K questions, the helper 0.85×
            // (BENCHMARKS.md).
            sd_proposer: "ngram".into(),
            judge_kind: "embed".into(),
            embed_threshold: 0.95,
            step_token_budget: 100,
            max_answer_tokens: lookahead_engine::DEFAULT_MAX_ANSWER_TOKENS,
            calculator: CALCULATOR_BY_DEFAULT,
            theme: "system".into(),
            font_scale: 1.0,
        }
    }
}

pub const SETTINGS_KEY: &str = "app_settings";

/// Whether the calculator is in the loop unless the user says otherwise:
/// on, because it measured better on the GSM8K bench (BENCHMARKS.md: it
/// turned both answers with a wrong sum among the first 30 into right
/// ones, 18/30 → 20/30, and changes nothing where every sum is right).
pub const CALCULATOR_BY_DEFAULT: bool = true;

impl Settings {
    /// Rejects values the engine cannot use, in words the settings screen
    /// can show next to the field.
    pub fn validate(&self) -> CommandResult<()> {
        let invalid = |what: &str| Err(CommandError::new("invalid_settings", what.to_string()));
        if !(1..=8).contains(&self.gamma) {
            return invalid("Look-ahead depth must be between 1 and 8 steps.");
        }
        if !(0.5..=1.0).contains(&self.embed_threshold) {
            return invalid("The similarity threshold must be between 0.5 and 1.0.");
        }
        if !(10..=1000).contains(&self.step_token_budget) {
            return invalid("The step length limit must be between 10 and 1000 tokens.");
        }
        if !(16..=4096).contains(&self.max_answer_tokens) {
            return invalid("The answer length limit must be between 16 and 4096 tokens.");
        }
        if self.mode != "auto" && self.mode.parse::<Mode>().is_err() {
            return invalid("Unknown mode.");
        }
        if !matches!(self.sd_proposer.as_str(), "ngram" | "draft") {
            return invalid(
                "Word drafting guesses either from the text so far or with the helper model.",
            );
        }
        if !(0.5..=2.0).contains(&self.font_scale) {
            return invalid("Text size must be between 50% and 200%.");
        }
        Ok(())
    }

    pub fn target_path(&self) -> std::path::PathBuf {
        self.target_model_path
            .as_ref()
            .map(Into::into)
            .unwrap_or_else(|| models::path_for_role(Role::Target))
    }

    pub fn draft_path(&self) -> std::path::PathBuf {
        self.draft_model_path
            .as_ref()
            .map(Into::into)
            .unwrap_or_else(|| models::path_for_role(Role::Draft))
    }

    /// The mode to run. "Auto" learns on this computer: it tries each mode
    /// the installed models allow [`AUTO_TRIALS`] times (the most promising
    /// first), then keeps whichever answered fastest (`measured`: speeds of
    /// recent answers with the same models). Whether step speculation pays
    /// depends on the machine and the model pair, so no fixed order is
    /// right everywhere.
    pub fn resolved_mode(&self, available: &[Mode], measured: &[MeasuredSpeed]) -> Mode {
        if let Ok(mode) = self.mode.parse::<Mode>() {
            return mode;
        }
        let candidates = || {
            [Mode::SdLr, Mode::Lr, Mode::Sd, Mode::Plain]
                .into_iter()
                .filter(|m| *m == Mode::Plain || available.contains(m))
        };
        let speed = |mode: Mode| measured.iter().find(|s| s.mode == mode);
        if let Some(untried) =
            candidates().find(|m| speed(*m).is_none_or(|s| s.answers < AUTO_TRIALS))
        {
            return untried;
        }
        candidates()
            .max_by(|a, b| {
                let speed_of = |m: Mode| speed(m).map_or(0.0, |s| s.tokens_per_s);
                speed_of(*a).total_cmp(&speed_of(*b))
            })
            .unwrap_or(Mode::Plain)
    }

    /// Models to load for `mode`.
    pub fn engine_config(&self, mode: Mode) -> EngineConfig {
        EngineConfig::new(
            self.target_path(),
            (mode != Mode::Plain).then(|| self.draft_path()),
        )
    }

    /// The judge as stored with an answer ("embed@0.95", "llm:draft"), or
    /// None for modes that judge nothing.
    pub fn judge_label(&self, mode: Mode) -> Option<String> {
        if !mode.uses_step_speculation() {
            return None;
        }
        Some(if self.judge_kind == "llm" {
            format!("llm:{}", self.judge_model)
        } else {
            format!("embed@{:.2}", self.embed_threshold)
        })
    }

    pub fn ask_options(&self, mode: Mode) -> AskOptions {
        AskOptions {
            mode,
            sampling: Sampling::default(),
            max_answer_tokens: self.max_answer_tokens,
            step_token_budget: self.step_token_budget,
            gamma: self.gamma,
            judge: if self.judge_kind == "llm" {
                JudgeChoice::Llm {
                    on_target: self.judge_model == "target",
                }
            } else {
                JudgeChoice::Embed {
                    threshold: self.embed_threshold,
                }
            },
            sd_with_draft: self.sd_proposer == "draft",
            correct_arithmetic: self.calculator,
            ..AskOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto() -> Settings {
        Settings {
            mode: "auto".into(),
            ..Settings::default()
        }
    }

    fn measured(mode: Mode, answers: i64, tokens_per_s: f64) -> MeasuredSpeed {
        MeasuredSpeed {
            mode,
            answers,
            tokens_per_s,
        }
    }

    const ALL: [Mode; 4] = [Mode::Plain, Mode::Sd, Mode::Lr, Mode::SdLr];

    #[test]
    fn word_drafting_guesses_from_the_text_unless_the_helper_is_chosen() {
        let s = Settings::default();
        assert!(s.validate().is_ok());
        assert!(!s.ask_options(Mode::Sd).sd_with_draft);
        let helper = Settings {
            sd_proposer: "draft".into(),
            ..Settings::default()
        };
        assert!(helper.ask_options(Mode::Sd).sd_with_draft);
        let bad = Settings {
            sd_proposer: "tea leaves".into(),
            ..Settings::default()
        };
        let err = bad.validate().expect_err("an unknown proposer is refused");
        assert!(err.message.contains("helper model"), "{}", err.message);
    }

    #[test]
    fn a_chosen_mode_is_kept_whatever_was_measured() {
        let s = Settings {
            mode: "sd".into(),
            ..Settings::default()
        };
        let plain_fastest = [measured(Mode::Plain, 9, 50.0), measured(Mode::Sd, 9, 5.0)];
        assert_eq!(s.resolved_mode(&ALL, &plain_fastest), Mode::Sd);
    }

    #[test]
    fn auto_tries_each_available_mode_then_keeps_the_fastest() {
        let s = auto();
        // Nothing measured: the most promising mode first.
        assert_eq!(s.resolved_mode(&ALL, &[]), Mode::SdLr);
        // Not yet measured often enough: still trying it.
        let mut m = vec![measured(Mode::SdLr, 1, 30.0)];
        assert_eq!(s.resolved_mode(&ALL, &m), Mode::SdLr);
        m[0].answers = AUTO_TRIALS;
        assert_eq!(s.resolved_mode(&ALL, &m), Mode::Lr);
        m.push(measured(Mode::Lr, AUTO_TRIALS, 8.0));
        m.push(measured(Mode::Sd, AUTO_TRIALS, 14.0));
        // Plain is the yardstick and gets measured too.
        assert_eq!(s.resolved_mode(&ALL, &m), Mode::Plain);
        m.push(measured(Mode::Plain, AUTO_TRIALS, 12.0));
        assert_eq!(s.resolved_mode(&ALL, &m), Mode::SdLr);
        // Where step speculation loses on this machine, plain or token SD
        // wins.
        m[0].tokens_per_s = 6.0;
        assert_eq!(s.resolved_mode(&ALL, &m), Mode::Sd);
        m[2].tokens_per_s = 11.0;
        assert_eq!(s.resolved_mode(&ALL, &m), Mode::Plain);
    }

    #[test]
    fn auto_only_picks_modes_the_installed_models_allow() {
        let s = auto();
        let fast_lr = [
            measured(Mode::Lr, 5, 99.0),
            measured(Mode::Sd, 5, 20.0),
            measured(Mode::Plain, 5, 10.0),
        ];
        assert_eq!(
            s.resolved_mode(&[Mode::Plain, Mode::Sd], &fast_lr),
            Mode::Sd
        );
        assert_eq!(s.resolved_mode(&[Mode::Plain], &fast_lr), Mode::Plain);
        assert_eq!(s.resolved_mode(&[Mode::Plain], &[]), Mode::Plain);
    }
}
