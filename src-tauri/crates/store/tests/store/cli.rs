//! The CLI's `history` / `stats` module (src-tauri/crates/cli/src/history.rs).

use clap::Parser;
use lookahead_store::*;

use crate::common::*;
use crate::history::*;

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    #[command(subcommand)]
    History(HistoryCommand),
    Stats(StatsArgs),
}

fn parse(args: &[&str]) -> Result<Cmd, clap::Error> {
    Cli::try_parse_from(std::iter::once("lookahead").chain(args.iter().copied())).map(|c| c.cmd)
}

#[test]
fn command_lines_parse() {
    let history = |args: &[&str]| match parse(args).unwrap() {
        Cmd::History(h) => h,
        other => panic!("{other:?}"),
    };
    assert_eq!(history(&["history", "list"]), HistoryCommand::List);
    assert_eq!(
        history(&["history", "show", "12"]),
        HistoryCommand::Show { id: 12 }
    );
    assert_eq!(
        history(&["history", "search", "sky blue"]),
        HistoryCommand::Search {
            text: "sky blue".into()
        }
    );
    assert_eq!(
        history(&["history", "export", "7", "--format", "json"]),
        HistoryCommand::Export {
            id: 7,
            format: ExportFormat::Json,
            output: None
        }
    );
    assert_eq!(
        history(&["history", "export", "7", "-o", "out.md"]),
        HistoryCommand::Export {
            id: 7,
            format: ExportFormat::Md,
            output: Some("out.md".into())
        }
    );
    assert_eq!(
        history(&["history", "import", "x.json"]),
        HistoryCommand::Import {
            file: "x.json".into()
        }
    );
    match parse(&["stats", "--since", "2025-01-02", "--csv"]).unwrap() {
        Cmd::Stats(s) => assert_eq!(
            s,
            StatsArgs {
                since: Some("2025-01-02".into()),
                csv: true
            }
        ),
        other => panic!("{other:?}"),
    }
    assert!(parse(&["history", "export", "7", "--format", "pdf"]).is_err());
    assert!(parse(&["history", "show", "seven"]).is_err());
}

#[test]
fn since_must_be_a_date() {
    let ok = stats_filter(&StatsArgs {
        since: Some("2025-02-03".into()),
        csv: false,
    })
    .unwrap();
    assert_eq!(ok.since.unwrap().to_string(), "2025-02-03");
    assert_eq!(
        stats_filter(&StatsArgs {
            since: None,
            csv: false
        })
        .unwrap(),
        StatsFilter::default()
    );
    for bad in ["yesterday", "2025-13-01", "03/02/2025"] {
        let err = stats_filter(&StatsArgs {
            since: Some(bad.into()),
            csv: false,
        })
        .unwrap_err();
        assert!(err.to_string().contains(bad), "{err}");
    }
}

async fn filled_store(db: &TestDb) -> (Store, i64) {
    let store = open(&db.path).await;
    let c = store
        .create_conversation("Why is the sky blue?")
        .await
        .unwrap();
    store
        .add_user_message(c.id, "Explain Rayleigh scattering")
        .await
        .unwrap();
    store
        .save_answer(c.id, answer("Short wavelengths scatter more.", 5))
        .await
        .unwrap();
    let other = store.create_conversation("Plain chat").await.unwrap();
    let mut plain = answer("hello", 0);
    plain.start = start(Mode::Plain, None, "target-7b", None, None);
    plain.outcome.metrics = Some(AnswerMetrics {
        drafted_tokens: None,
        accepted_tokens: None,
        speedup_estimate: None,
        speculation_stopped: None,
        guard_stopped: false,
        ..metrics(0, 0, None)
    });
    store.save_answer(other.id, plain).await.unwrap();
    (store, c.id)
}

#[tokio::test]
async fn runners_work_against_a_real_store() {
    let db = temp_db();
    let (store, id) = filled_store(&db).await;
    run_history(&store, HistoryCommand::List).await.unwrap();
    run_history(&store, HistoryCommand::Show { id })
        .await
        .unwrap();
    run_history(
        &store,
        HistoryCommand::Search {
            text: "rayleigh".into(),
        },
    )
    .await
    .unwrap();
    let err = run_history(&store, HistoryCommand::Show { id: 999 })
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("999"), "{err:#}");

    let md = db.dir.path().join("c.md");
    run_history(
        &store,
        HistoryCommand::Export {
            id,
            format: ExportFormat::Md,
            output: Some(md.clone()),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(&md).unwrap(),
        store.export_markdown(id).await.unwrap()
    );
    let json = db.dir.path().join("c.json");
    run_history(
        &store,
        HistoryCommand::Export {
            id,
            format: ExportFormat::Json,
            output: Some(json.clone()),
        },
    )
    .await
    .unwrap();
    run_history(&store, HistoryCommand::Import { file: json })
        .await
        .unwrap();
    let titles: Vec<String> = store
        .list_conversations()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.title)
        .collect();
    assert_eq!(
        titles
            .iter()
            .filter(|t| *t == "Why is the sky blue?")
            .count(),
        2
    );
    let err = run_history(&store, HistoryCommand::Import { file: md })
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("not a Lookahead conversation export"),
        "{err:#}"
    );

    run_stats(
        &store,
        StatsArgs {
            since: None,
            csv: false,
        },
    )
    .await
    .unwrap();
    run_stats(
        &store,
        StatsArgs {
            since: Some("2020-01-01".into()),
            csv: true,
        },
    )
    .await
    .unwrap();
    assert!(run_stats(
        &store,
        StatsArgs {
            since: Some("soon".into()),
            csv: false
        }
    )
    .await
    .is_err());
}

#[tokio::test]
async fn renderings_show_the_data() {
    let db = temp_db();
    let (store, id) = filled_store(&db).await;

    let list = render_list(&store.list_conversations().await.unwrap());
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("Id") && lines[0].ends_with("Title"));
    assert!(lines[1].ends_with("Plain chat") && lines[2].ends_with("Why is the sky blue?"));
    assert_eq!(render_list(&[]), "No conversations yet.\n");

    let found = render_search(&store.search("rayleigh", 10).await.unwrap(), false);
    assert!(found.contains("[Rayleigh]"), "{found}");
    assert!(!found.contains(MATCH_START));
    assert_eq!(render_search(&[], false), "No matches.\n");

    let shown = render_conversation(&store.get_conversation(id).await.unwrap());
    assert!(
        shown.contains("── Lookahead")
            && shown.contains("sd+lr · draft-0.5b → target-7b · judge judge-1.5b")
    );
    assert!(shown.contains("Final answer: final: Short wavelengths scatter more."));
    assert!(shown.contains("speed-up 1.75×") && shown.contains("token acceptance 75.0%"));
    assert_eq!(
        shown
            .lines()
            .filter(|l| l.contains(" accepted ")
                || l.contains(" rejected ")
                || l.contains(" target_only "))
            .count(),
        5
    );

    let f = StatsFilter::default();
    let report = StatsReport {
        totals: store.totals(&f).await.unwrap(),
        by_day: store.acceptance_by(&f, GroupBy::Day).await.unwrap(),
        by_model_pair: store.acceptance_by(&f, GroupBy::ModelPair).await.unwrap(),
        by_judge: store.acceptance_by(&f, GroupBy::Judge).await.unwrap(),
        by_gamma: store.acceptance_by(&f, GroupBy::Gamma).await.unwrap(),
        positions: store.position_acceptance(&f).await.unwrap(),
        histogram: store.speedup_histogram(&f, 0.25).await.unwrap(),
    };
    let stats = render_stats(&report);
    let t = &report.totals;
    assert!(
        stats.starts_with(&format!("Answers: {}", t.answers)),
        "{stats}"
    );
    assert!(stats.contains(&format!(
        "({} of {} drafted)",
        t.accepted_tokens, t.drafted_tokens
    )));
    assert!(stats.contains("draft-0.5b → target-7b") && stats.contains("(no judge)"));
    assert!(stats.contains("1.75–2.00"), "{stats}");
    let empty = Totals {
        answers: 0,
        ..t.clone()
    };
    assert!(render_stats(&StatsReport {
        totals: empty,
        ..report
    })
    .starts_with("No answers"));
}
