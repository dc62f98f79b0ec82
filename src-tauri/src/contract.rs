//! The IPC contract as TypeScript, generated from the Rust types the shell
//! sends and receives (`ts-rs`): `ui/src/api/generated.ts`. The UI's types
//! (`ui/src/api/types.ts`) and the end-to-end mock are built on that file,
//! so the page, the mock and the shell cannot drift apart. A test fails
//! when the checked-in file differs; `UPDATE_CONTRACT=1 cargo test
//! --workspace --lib contract` writes it anew.

use lookahead_domain::{
    AnswerMetrics, ArithmeticCheck, JudgeKind, JudgeModel, KeptFrom, MessageStatus, Mode,
    ModeChoice, ModelsLocation, PositionCount, Role, SdProposer, Stage, StepRecord, Theme,
    TsConfig, Verdict, TS,
};

use lookahead_models::{FetchProgress, FetchStage};

use crate::commands::ask::{AskEvent, AskResult};
use crate::commands::models::{FolderImport, ModelInfo, ModelsStatus};
use crate::commands::settings::ServerTest;
use crate::commands::stats::{
    BucketView, ConfigView, DayView, PositionView, StatsView, TotalsView,
};
use crate::error::CommandError;
use crate::settings::Settings;
use crate::views::{ConversationSummaryView, ConversationView, MessageView};
use crate::worker::PrepareEvent;

/// Where the generated file lives, from the shell crate's folder.
pub const CONTRACT_FILE: &str = "../ui/src/api/generated.ts";

/// The whole file.
pub fn typescript() -> String {
    // Row ids and counts are JavaScript numbers (far below 2^53).
    let cfg = TsConfig::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/src/contract.rs (ts-rs); do not edit.\n\
         // Regenerate: UPDATE_CONTRACT=1 cargo test --workspace --lib contract\n\
         /* eslint-disable */\n",
    );
    macro_rules! declare {
        ($($t:ty),+ $(,)?) => {$(
            out.push('\n');
            if let Some(docs) = <$t as TS>::docs() {
                out.push_str(&docs);
            }
            out.push_str("export ");
            out.push_str(&<$t as TS>::decl(&cfg));
            out.push('\n');
        )+};
    }
    out.push_str(
        "\n/** What a model is for (the models folder's roles). */\n\
         export type ModelRole = \"draft\" | \"target\" | \"judge\" | \"embedding\";\n",
    );
    declare!(
        // The domain: answers, steps, metrics.
        Mode,
        Verdict,
        KeptFrom,
        Role,
        MessageStatus,
        ArithmeticCheck,
        StepRecord,
        PositionCount,
        AnswerMetrics,
        Stage,
        // Settings.
        ModeChoice,
        JudgeKind,
        JudgeModel,
        SdProposer,
        Theme,
        ModelsLocation,
        Settings,
        ServerTest,
        // Commands and events.
        CommandError,
        MessageView,
        ConversationView,
        ConversationSummaryView,
        AskEvent,
        AskResult,
        PrepareEvent,
        ModelInfo,
        ModelsStatus,
        FolderImport,
        FetchStage,
        FetchProgress,
        TotalsView,
        DayView,
        PositionView,
        BucketView,
        ConfigView,
        StatsView,
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn the_checked_in_contract_is_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(super::CONTRACT_FILE);
        let generated = super::typescript();
        if std::env::var_os("UPDATE_CONTRACT").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "{} is not what the Rust types generate: run \
             `UPDATE_CONTRACT=1 cargo test --workspace --lib contract` and commit it",
            path.display()
        );
    }
}
