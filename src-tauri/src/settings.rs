//! The user's settings, as the UI edits them, and how they turn into engine
//! options.

use lookahead_domain::{JudgeKind, JudgeModel, ModeChoice, ModelsLocation, SdProposer, Theme};
use lookahead_engine::ServerConfig;
use lookahead_engine::{
    choose_mode, AskOptions, AutoChoice, EngineConfig, JudgeChoice, Mode, ModeRecord, Sampling,
};
use lookahead_models::{self as models, Role};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CommandError, CommandResult};

/// The user's settings. Choices are typed (their words are the domain's
/// setting enums), so a value the app does not know is refused when it is
/// read, and ranges are checked in one place, [`Settings::validate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Settings {
    pub draft_model_path: Option<String>,
    pub target_model_path: Option<String>,
    /// Which model answers the LLM judge.
    pub judge_model: JudgeModel,
    pub mode: ModeChoice,
    /// Steps drafted ahead, 1..=8.
    pub gamma: usize,
    /// What guesses the next words in word drafting (sd mode): repeats of
    /// the text so far or the helper model. Step + word drafting always
    /// guesses from the text: the helper is busy drafting steps.
    pub sd_proposer: SdProposer,
    pub judge_kind: JudgeKind,
    /// Similarity needed to accept a drafted step, 0.5..=1.0 (embedding judge).
    pub embed_threshold: f64,
    /// Most tokens in one reasoning step, 10..=1000.
    pub step_token_budget: usize,
    /// Most tokens in the whole answer, 16..=4096.
    pub max_answer_tokens: usize,
    /// The calculator in the loop: a wrong result the model writes is
    /// replaced by the exact value before it goes on.
    pub calculator: bool,
    pub theme: Theme,
    /// Multiplier of the base text size, 0.85..=1.5.
    pub font_scale: f64,
    /// Where the models run: this computer, or an inference server on the
    /// network (llama.cpp's server, vLLM, mistral.rs).
    pub models_location: ModelsLocation,
    /// The server's address, e.g. `http://gpu-box:8000`.
    pub server_url: String,
    /// The main model's name on the server ("" = the first it serves).
    pub server_model: String,
    /// The helper model's name on the server; "" = the helper stays on
    /// this computer.
    pub server_draft_model: String,
    /// Write-only: a new API key for the server. Kept in its own file in
    /// the data folder (readable by this user only), never in the history
    /// file; always empty when read back.
    pub server_key: String,
    /// Read-only: whether a key is kept.
    pub server_key_saved: bool,
    /// The kept key, filled in by the shell for the engine; never sent or stored.
    #[serde(skip)]
    #[ts(skip)]
    pub server_key_kept: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            draft_model_path: None,
            target_model_path: None,
            judge_model: JudgeModel::Embedding,
            mode: ModeChoice::Auto,
            gamma: 4,
            // Word drafting runs on the CPU executor, where the helper costs
            // 0.6 of the main model per token: guessing from the text so far
            // won 1.32× plain on ten GSM8K questions, the helper 0.85×
            // (BENCHMARKS.md).
            sd_proposer: SdProposer::Ngram,
            judge_kind: JudgeKind::Embed,
            embed_threshold: 0.95,
            step_token_budget: 100,
            max_answer_tokens: lookahead_engine::DEFAULT_MAX_ANSWER_TOKENS,
            calculator: CALCULATOR_BY_DEFAULT,
            theme: Theme::System,
            font_scale: 1.0,
            models_location: ModelsLocation::ThisComputer,
            server_url: String::new(),
            server_model: String::new(),
            server_draft_model: String::new(),
            server_key: String::new(),
            server_key_saved: false,
            server_key_kept: None,
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
        if !(0.85..=1.5).contains(&self.font_scale) {
            return invalid("Text size must be between 85% and 150%.");
        }
        match self.models_location {
            ModelsLocation::ThisComputer => {}
            ModelsLocation::Server => {
                let url = self.server_url.trim();
                let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
                if !scheme_ok || url.len() < 10 || url.chars().any(char::is_whitespace) {
                    return invalid(
                        "The server address must start with http:// or https://, e.g. http://gpu-box:8000.",
                    );
                }
            }
        }
        Ok(())
    }

    /// The main model's server, when the models run on one.
    pub fn target_server(&self) -> Option<ServerConfig> {
        (self.models_location == ModelsLocation::Server).then(|| {
            // The key from the environment, unless the app keeps one.
            let mut server = ServerConfig::new(
                self.server_url.trim(),
                Some(self.server_model.trim().to_string()).filter(|m| !m.is_empty()),
            );
            if let Some(kept) = &self.server_key_kept {
                server.api_key = Some(kept.clone());
            }
            server
        })
    }

    /// The helper model's server, when it runs on one too.
    pub fn draft_server(&self) -> Option<ServerConfig> {
        let draft = self.server_draft_model.trim();
        self.target_server()
            .filter(|_| !draft.is_empty())
            .map(|server| ServerConfig {
                model: Some(draft.to_string()),
                ..server
            })
    }

    /// The name answers record for the main model (and speeds are kept
    /// under), as the engine configuration names it.
    pub fn target_name(&self) -> String {
        self.engine_config(Mode::Plain).target_name()
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

    /// The mode to run: the one chosen, or for "auto" the fastest this
    /// computer has measured with these models (`measured`), starting from
    /// the ranking measured on machines like it, and on one answer in ten
    /// a mode not yet measured, tried with the slowdown guard at its
    /// strictest ([`lookahead_engine::choose_mode`]).
    pub fn resolved_mode(&self, available: &[Mode], measured: &[ModeRecord]) -> AutoChoice {
        match self.mode.mode() {
            Some(mode) => AutoChoice {
                mode,
                exploring: false,
            },
            None => choose_mode(available, measured),
        }
    }

    /// Models to load for `mode`.
    /// (The helper model only where the mode uses it: word drafting that
    /// guesses from the text needs none.)
    pub fn engine_config(&self, mode: Mode) -> EngineConfig {
        let needs_draft = mode.uses_step_speculation()
            || (mode == Mode::Sd && self.sd_proposer == SdProposer::Draft);
        let draft_server = self.draft_server().filter(|_| needs_draft);
        let local_draft = needs_draft && draft_server.is_none();
        EngineConfig {
            target_server: self.target_server(),
            draft_server,
            ..EngineConfig::new(self.target_path(), local_draft.then(|| self.draft_path()))
                .with_embedding(models::path_for_role(Role::Embedding))
        }
    }

    /// The judge as stored with an answer ("embed@0.95", "llm:draft"), or
    /// None for modes that judge nothing.
    pub fn judge_label(&self, mode: Mode) -> Option<String> {
        if !mode.uses_step_speculation() {
            return None;
        }
        Some(self.judge().label())
    }

    /// The judge these settings choose.
    pub fn judge(&self) -> JudgeChoice {
        JudgeChoice::of(self.judge_kind, self.judge_model, self.embed_threshold)
    }

    pub fn ask_options(&self, choice: AutoChoice) -> AskOptions {
        let mode = choice.mode;
        AskOptions {
            mode,
            strict_guard: choice.exploring,
            sampling: Sampling::default(),
            max_answer_tokens: self.max_answer_tokens,
            step_token_budget: self.step_token_budget,
            gamma: self.gamma,
            judge: self.judge(),
            sd_with_draft: self.sd_proposer == SdProposer::Draft,
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
            mode: ModeChoice::Auto,
            ..Settings::default()
        }
    }

    const ALL: &[Mode] = Mode::ALL;

    fn chosen(mode: Mode) -> AutoChoice {
        AutoChoice {
            mode,
            exploring: false,
        }
    }

    #[test]
    fn word_drafting_guesses_from_the_text_unless_the_helper_is_chosen() {
        let s = Settings::default();
        assert!(s.validate().is_ok());
        assert!(!s.ask_options(chosen(Mode::Sd)).sd_with_draft);
        let helper = Settings {
            sd_proposer: SdProposer::Draft,
            ..Settings::default()
        };
        assert!(helper.ask_options(chosen(Mode::Sd)).sd_with_draft);
        let mut bad = serde_json::to_value(Settings::default()).expect("settings serialise");
        bad["sd_proposer"] = "tea leaves".into();
        let err =
            serde_json::from_value::<Settings>(bad).expect_err("an unknown proposer is refused");
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }

    #[test]
    fn a_chosen_mode_is_kept_whatever_was_measured() {
        let s = Settings {
            mode: ModeChoice::Lr,
            ..Settings::default()
        };
        let plain_fastest = [ModeRecord {
            mode: Mode::Lr,
            answers: 9,
            mean_speedup: Some(0.2),
        }];
        assert_eq!(s.resolved_mode(ALL, &plain_fastest), chosen(Mode::Lr));
    }

    #[test]
    fn auto_starts_with_word_drafting_from_the_text_and_explores_strictly() {
        let s = auto();
        let first = s.resolved_mode(ALL, &[]);
        assert_eq!(first, chosen(Mode::Sd));
        // Guessing from the text needs no helper model loaded.
        assert_eq!(s.engine_config(Mode::Sd).draft, None);
        assert!(s.engine_config(Mode::Lr).draft.is_some());
        assert!(!s.ask_options(first).strict_guard);
        let tenth = s.resolved_mode(
            ALL,
            &[ModeRecord {
                mode: Mode::Sd,
                answers: 9,
                mean_speedup: Some(1.3),
            }],
        );
        assert!(tenth.exploring && tenth.mode.uses_step_speculation());
        assert!(s.ask_options(tenth).strict_guard);
    }
}
