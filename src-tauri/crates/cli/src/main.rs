//! `lookahead`: the headless command line over the engine and the store.

mod ask;
mod bench;
mod history;
mod models;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "lookahead",
    version,
    about = "Step-by-step answers from local models, sped up by Lookahead Reasoning"
)]
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
    /// Past questions and answers.
    History {
        #[command(subcommand)]
        command: history::HistoryCommand,
    },
    /// How much the speed-ups helped, over time.
    Stats(history::StatsArgs),
}

/// Opens the history database (the same file the desktop app uses).
fn with_store<T>(
    run: impl AsyncFnOnce(&lookahead_store::Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    open_store(false, run)
}

/// Opens the history for `run`: read-only (beside an app that is writing,
/// or a history this user may only read) or for writing.
fn open_store<T>(
    read_only: bool,
    run: impl AsyncFnOnce(&lookahead_store::Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let path = lookahead_store::default_db_path()?;
        let store = if read_only {
            lookahead_store::Store::open_read_only(&path).await?
        } else {
            let store = lookahead_store::Store::open(&path).await?;
            // Conversations deleted more than a week ago leave the file.
            let _ = store.empty_expired_bin().await;
            store
        };
        let result = run(&store).await;
        store.close().await;
        result
    })
}

/// `history reset`: the one command that must not open the history first.
fn reset_history() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let path = lookahead_store::default_db_path()?;
    print!("{}", runtime.block_on(history::reset(&path))?);
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Models { command } => models::run(command),
        Command::Ask(args) => ask::run(args),
        Command::Bench(args) => bench::run(args),
        Command::History {
            command: history::HistoryCommand::Reset,
        } => reset_history(),
        Command::History { command } => open_store(command.only_reads(), async |store| {
            history::run_history(store, command).await
        }),
        Command::Stats(args) => {
            open_store(true, async |store| history::run_stats(store, args).await)
        }
    };
    if let Err(error) = result {
        // Engine errors carry a plain-language message; show that first.
        if let Some(engine_error) = error.downcast_ref::<lookahead_engine::EngineError>() {
            eprintln!("error: {}", engine_error.user_message());
            eprintln!("  (details: {engine_error})");
        } else if let Some(store_error) = error.downcast_ref::<lookahead_store::StoreError>() {
            eprintln!("error: {}", store_error.user_message());
            eprintln!("  (details: {store_error})");
        } else {
            eprintln!("error: {error:#}");
        }
        std::process::exit(1);
    }
}
