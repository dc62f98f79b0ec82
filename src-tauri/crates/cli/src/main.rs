//! `lookahead`: the headless command line over the engine and the store.

mod ask;
mod bench;
mod models;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "lookahead", version, about = "Step-by-step answers from local models, sped up by Lookahead Reasoning")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch, list or import models.
    Models {
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
    /// Answer one question.
    Ask(ask::AskArgs),
    /// Measure accuracy and speed on a question set.
    Bench(bench::BenchArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Models { command } => models::run(command),
        Command::Ask(args) => ask::run(args),
        Command::Bench(args) => bench::run(args),
    };
    if let Err(error) = result {
        // Engine errors carry a plain-language message; show that first.
        match error.downcast_ref::<lookahead_engine::EngineError>() {
            Some(engine_error) => {
                eprintln!("error: {}", engine_error.user_message());
                eprintln!("  (details: {engine_error})");
            }
            None => eprintln!("error: {error:#}"),
        }
        std::process::exit(1);
    }
}
