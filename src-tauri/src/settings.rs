//! The user's settings, as the UI edits them, and how they turn into engine
//! options.

use lookahead_engine::models::{self, Role};
use lookahead_engine::{AskOptions, EngineConfig, JudgeChoice, Mode, Sampling};
use serde::{Deserialize, Serialize};

use crate::error::{CommandError, CommandResult};

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
    /// "llm" or "embed".
    pub judge_kind: String,
    pub embed_threshold: f64,
    pub step_token_budget: usize,
    pub max_answer_tokens: usize,
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
            judge_kind: "embed".into(),
            embed_threshold: 0.95,
            step_token_budget: 100,
            max_answer_tokens: 512,
            theme: "system".into(),
            font_scale: 1.0,
        }
    }
}

pub const SETTINGS_KEY: &str = "app_settings";

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

    /// The mode to run: "auto" picks the fastest one the installed models
    /// allow.
    pub fn resolved_mode(&self, available: &[Mode]) -> Mode {
        if let Ok(mode) = self.mode.parse::<Mode>() {
            return mode;
        }
        [Mode::SdLr, Mode::Lr, Mode::Sd]
            .into_iter()
            .find(|m| available.contains(m))
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
            ..AskOptions::default()
        }
    }
}
