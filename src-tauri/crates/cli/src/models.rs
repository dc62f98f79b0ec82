use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use lookahead_engine::CancelFlag;
use lookahead_models::{self as models, FetchStage, Role};

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Download the default models (or the named ones), assemble and verify them.
    Fetch {
        /// Model ids (default: the draft, target and embedding models).
        ids: Vec<String>,
        /// Also fetch the tiny test model.
        #[arg(long)]
        tiny: bool,
        /// Only the tiny test model.
        #[arg(long, conflicts_with = "tiny")]
        tiny_only: bool,
    },
    /// Show what is installed and verified.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Use a GGUF file you already have for a role.
    Import {
        path: PathBuf,
        #[arg(long)]
        role: Role,
    },
}

pub fn run(command: ModelsCommand) -> Result<()> {
    match command {
        ModelsCommand::Fetch {
            ids,
            tiny,
            tiny_only,
        } => {
            let mut ids: Vec<String> = if tiny_only {
                vec![]
            } else if ids.is_empty() {
                models::DEFAULT_MODEL_IDS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            } else {
                ids
            };
            if tiny || tiny_only {
                ids.push("smollm2-135m".into());
            }
            fetch(&ids)
        }
        ModelsCommand::List { json } => {
            let list = models::list();
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            println!("Models folder: {}", models::models_dir().display());
            for m in list {
                let state = match (m.installed, m.verified) {
                    (true, true) => "ready",
                    (true, false) => "NOT VERIFIED",
                    _ => "missing",
                };
                let size = m
                    .bytes
                    .map(|b| format!("{:.0} MB", b as f64 / 1e6))
                    .unwrap_or_default();
                println!(
                    "{:<10} {:<13} {:>8}  {}{}",
                    m.role.as_str(),
                    state,
                    size,
                    m.name,
                    if m.imported { " (imported)" } else { "" }
                );
            }
            Ok(())
        }
        ModelsCommand::Import { path, role } => {
            let installed = models::import(&path, role)?;
            println!(
                "Using {} as the {} model.",
                installed.path.display(),
                role.as_str()
            );
            Ok(())
        }
    }
}

pub fn fetch(ids: &[String]) -> Result<()> {
    let dir = models::models_dir();
    let cancel = CancelFlag::new();
    for id in ids {
        let Some(spec) = models::spec(id) else {
            let known: Vec<&str> = models::CATALOG.iter().map(|s| s.id).collect();
            bail!("unknown model \"{id}\"; known: {}", known.join(", "));
        };
        let bar = ProgressBar::new(spec.bytes);
        bar.set_style(
            ProgressStyle::with_template("{msg:<42} [{bar:30}] {bytes}/{total_bytes} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let path = models::fetch(&dir, spec, &cancel, &mut |p| {
            let stage = match p.stage {
                FetchStage::Download => "downloading",
                FetchStage::Assemble => "assembling",
                FetchStage::Verify => "verifying",
                FetchStage::Done => "ready",
            };
            bar.set_message(format!("{} ({stage})", spec.id));
            bar.set_position(p.done_bytes);
        });
        match path {
            Ok(path) => bar.finish_with_message(format!("{} ready: {}", spec.id, path.display())),
            Err(e) => {
                bar.abandon_with_message(format!("{} failed", spec.id));
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// The model file for a role, or a plain error that says how to get it.
pub fn require(role: Role) -> Result<PathBuf> {
    let path = models::path_for_role(role);
    if !path.exists() {
        bail!(
            "the {} model is not installed ({}). Run `lookahead models fetch` first, or `lookahead models import FILE.gguf --role {}`.",
            role.as_str(),
            path.display(),
            role.as_str()
        );
    }
    Ok(path)
}
