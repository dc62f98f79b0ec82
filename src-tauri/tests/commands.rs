//! The IPC contract, on Tauri's mock runtime: each command called the way
//! the web view calls it, against a temporary data folder.

#[path = "../crates/engine/tests/support/llama_server.rs"]
mod llama_server;

use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{WebviewWindow, WebviewWindowBuilder};

struct App {
    _app: tauri::App<tauri::test::MockRuntime>,
    window: WebviewWindow<tauri::test::MockRuntime>,
    _data: tempfile::TempDir,
}

fn app() -> App {
    let data = tempfile::tempdir().expect("tempdir");
    let app = lookahead_app::app_builder(mock_builder())
        .build(mock_context(noop_assets()))
        .expect("app builds");
    lookahead_app::manage_state(app.handle(), data.path().to_path_buf()).expect("state");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("window");
    App {
        _app: app,
        window,
        _data: data,
    }
}

fn call(app: &App, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        &app.window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().expect("json body"))
}

#[test]
fn settings_round_trip_and_bad_values_are_refused_in_words() {
    let app = app();
    let defaults = call(&app, "settings_get", json!({})).expect("settings_get");
    assert_eq!(defaults["mode"], "auto");
    assert_eq!(defaults["gamma"], 4);

    let mut changed = defaults.clone();
    changed["gamma"] = json!(6);
    changed["theme"] = json!("dark");
    let saved = call(&app, "settings_set", json!({ "settings": changed })).expect("settings_set");
    assert_eq!(saved["gamma"], 6);
    let again = call(&app, "settings_get", json!({})).expect("settings_get");
    assert_eq!(again["theme"], "dark");

    // A choice the app does not know never reaches the store: the typed
    // settings refuse it when the page's JSON is read.
    let mut unknown = defaults.clone();
    unknown["judge_kind"] = json!("tea leaves");
    unknown["gamma"] = json!(2);
    let err = call(&app, "settings_set", json!({ "settings": unknown })).expect_err("tea leaves");
    assert!(err.to_string().contains("tea leaves"), "{err}");
    let kept = call(&app, "settings_get", json!({})).expect("settings_get");
    assert_eq!(
        (kept["judge_kind"].clone(), kept["gamma"].clone()),
        (json!("embed"), json!(6))
    );

    let mut bad = defaults;
    bad["gamma"] = json!(40);
    let err = call(&app, "settings_set", json!({ "settings": bad })).expect_err("gamma 40");
    assert_eq!(err["code"], "invalid_settings");
    assert!(err["message"]
        .as_str()
        .unwrap_or("")
        .contains("between 1 and 8"));
}

#[test]
fn an_empty_question_is_refused_before_any_work() {
    let app = app();
    let err = call(
        &app,
        "ask",
        json!({
            "conversation_id": null,
            "question": "   ",
            "settings": null,
            "on_event": "__CHANNEL__:1"
        }),
    )
    .expect_err("empty question");
    assert_eq!(err["code"], "empty_prompt");
    let list = call(&app, "conversations_list", json!({ "query": null })).expect("list");
    assert_eq!(list, json!([]), "nothing is stored for a refused question");
}

#[test]
fn history_commands_report_unknown_conversations_plainly() {
    let app = app();
    let err = call(&app, "conversation_get", json!({ "id": 4242 })).expect_err("missing");
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    let err = call(
        &app,
        "conversation_export",
        json!({ "id": 1, "format": "pdf" }),
    )
    .expect_err("bad format");
    assert_eq!(err["code"], "invalid_format");
    let err = call(
        &app,
        "stats_query",
        json!({ "since": "yesterday", "until": null }),
    )
    .expect_err("bad date");
    assert_eq!(err["code"], "invalid_date");
    let stats = call(&app, "stats_query", json!({ "since": null, "until": null })).expect("stats");
    assert_eq!(stats["totals"]["answers"], 0);
}

#[test]
fn models_status_lists_each_role() {
    let app = app();
    let status = call(&app, "models_status", json!({})).expect("status");
    let roles: Vec<&str> = status["models"]
        .as_array()
        .expect("models")
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    for role in ["draft", "target", "embedding"] {
        assert!(roles.contains(&role), "{role} missing from {roles:?}");
    }
    // The file comes from the shell's own dialog; what it then checks:
    let err = tauri::async_runtime::block_on(lookahead_app::commands::models::import_file(
        "/nonexistent/x.gguf".into(),
        lookahead_models::Role::Target,
    ))
    .expect_err("missing file");
    assert_eq!(err.code, "model_missing");
    let err = call(&app, "models_import", json!({ "role": "boss" })).expect_err("role");
    assert_eq!(err["code"], "invalid_role");
}

/// Issue 15: a folder without any of the models says so in plain words.
#[test]
fn a_folder_without_models_says_what_it_should_hold() {
    let empty = tempfile::tempdir().expect("tmp");
    let err = tauri::async_runtime::block_on(lookahead_app::commands::models::import_folder(
        empty.path().to_path_buf(),
        lookahead_engine::CancelFlag::new(),
    ))
    .expect_err("nothing there");
    assert_eq!(err.code, "no_models_found");
    assert!(
        err.message.contains("recognised by their contents"),
        "{}",
        err.message
    );
}

/// Issue 12: the models are loaded and this computer's plain speed timed
/// before the first question, so even the first answer says how its speed
/// compares with the usual, and the dashboard's average is a number.
#[test]
fn engine_prepare_times_the_model_once_and_every_answer_gets_a_verdict() {
    use lookahead_models::{fetched, Role};
    let tiny = fetched(Role::Tiny).unwrap_or_else(|e| panic!("{e}"));
    let app = app();
    let mut settings = call(&app, "settings_get", json!({})).expect("settings_get");
    settings["target_model_path"] = json!(tiny.display().to_string());
    settings["draft_model_path"] = json!(tiny.display().to_string());
    settings["max_answer_tokens"] = json!(48);
    call(
        &app,
        "settings_set",
        json!({ "settings": settings.clone() }),
    )
    .expect("settings_set");

    call(
        &app,
        "engine_prepare",
        json!({ "settings": settings.clone(), "on_event": "__CHANNEL__:7" }),
    )
    .expect("engine_prepare");
    // Kept for the next start: preparing again measures nothing new, and
    // a new app finds the speed in the store.
    call(
        &app,
        "engine_prepare",
        json!({ "settings": settings.clone(), "on_event": "__CHANNEL__:8" }),
    )
    .expect("engine_prepare again");

    call(
        &app,
        "ask",
        json!({
            "conversation_id": null,
            "question": "What is 2 + 3?",
            "settings": settings,
            "on_event": "__CHANNEL__:9"
        }),
    )
    .expect("ask");
    let list = call(&app, "conversations_list", json!({ "query": null })).expect("list");
    let id = list[0]["id"].clone();
    let conv = call(&app, "conversation_get", json!({ "id": id })).expect("conversation");
    let answer = &conv["messages"][1];
    // Automatic mode starts with word drafting from the text: no helper
    // model, never slower than plain on the measured machines.
    assert_eq!(answer["mode"], "sd", "{answer}");
    let speedup = answer["metrics"]["speedup_estimate"].as_f64();
    assert!(
        speedup.is_some_and(|s| s > 0.0),
        "the first answer carries a speed-up: {}",
        answer["metrics"]
    );
    let stats = call(&app, "stats_query", json!({ "since": null, "until": null })).expect("stats");
    assert!(
        stats["totals"]["mean_speedup"].as_f64().is_some(),
        "the dashboard's average is a number: {}",
        stats["totals"]
    );
}

/// Issue 14 (M4): while an answer is written, what the user has seen is
/// saved about once a second, so a crash keeps it.
#[test]
fn streamed_text_is_saved_while_the_answer_is_written() {
    use lookahead_models::{fetched, Role};
    let tiny = fetched(Role::Tiny).unwrap_or_else(|e| panic!("{e}"));
    let app = app();
    let db = app._data.path().join("history.sqlite");
    let mut settings = call(&app, "settings_get", json!({})).expect("settings_get");
    settings["target_model_path"] = json!(tiny.display().to_string());
    settings["mode"] = json!("plain");
    settings["max_answer_tokens"] = json!(400);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Read the history beside the app (read-only) until the answer in
    // progress has text in it.
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(100));
                let text = runtime.block_on(async {
                    let store = lookahead_store::Store::open_read_only(&db).await.ok()?;
                    let list = store.list_conversations().await.ok()?;
                    let detail = store.get_conversation(list.first()?.id).await.ok()?;
                    store.close().await;
                    detail
                        .messages
                        .iter()
                        .find(|m| m.message.status == lookahead_store::MessageStatus::InProgress)
                        .map(|m| m.message.text.clone())
                });
                if text.is_some_and(|t| !t.is_empty()) {
                    return true;
                }
            }
            false
        })
    };
    let result = call(
        &app,
        "ask",
        json!({
            "conversation_id": null,
            "question": "Count from 1 to 600, one number per line.",
            "settings": settings,
            "on_event": "__CHANNEL__:5"
        }),
    );
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = watcher.join().expect("watcher");
    result.expect("ask");
    assert!(seen, "no text was saved while the answer was being written");
}

/// Issue 14 (L5): the window's capability grants exactly the app commands
/// the UI calls (ui/src/api/ipc.ts), and every one of them is declared in
/// build.rs; anything else is unreachable from the page.
#[test]
fn the_window_may_call_exactly_the_commands_the_ui_uses() {
    use std::collections::BTreeSet;
    let ipc = include_str!("../../ui/src/api/ipc.ts");
    let used: BTreeSet<String> = ipc
        .split("call<")
        .skip(1)
        .filter_map(|rest| {
            let start = rest.find("(\"")? + 2;
            let end = start + rest[start..].find('"')?;
            Some(rest[start..end].to_string())
        })
        .collect();
    assert!(used.contains("ask") && used.len() > 10, "{used:?}");
    let capability: Value =
        serde_json::from_str(include_str!("../capabilities/default.json")).expect("json");
    let granted: BTreeSet<String> = capability["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
        .map(|p| p.replace('-', "_"))
        .collect();
    assert_eq!(
        used, granted,
        "granted commands differ from those the UI calls"
    );
    let build = include_str!("../build.rs");
    for command in &granted {
        assert!(
            build.contains(&format!("\"{command}\"")),
            "{command} is not declared in build.rs"
        );
    }
    let saves_anywhere = capability["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .any(|p| {
            p.as_str()
                .is_some_and(|p| p.starts_with("dialog:") || p == "core:default")
        });
    assert!(
        !saves_anywhere,
        "the page needs no file dialog (the shell opens them) nor all of core"
    );
}

/// Issue 17: the models can run on a server: its address is checked, the
/// API key is kept in its own file (this user only), never in the history,
/// and never sent back; "Test connection" says in plain words when nothing
/// answers.
#[test]
fn a_server_key_is_kept_apart_and_a_dead_server_is_named() {
    use std::os::unix::fs::PermissionsExt;
    let app = app();
    let mut settings = call(&app, "settings_get", json!({})).expect("settings_get");
    assert_eq!(settings["models_location"], "this_computer");
    settings["models_location"] = json!("server");
    settings["server_url"] = json!("gpu-box:8000");
    let err = call(
        &app,
        "settings_set",
        json!({ "settings": settings.clone() }),
    )
    .expect_err("no scheme");
    assert!(
        err["message"].as_str().unwrap_or("").contains("http://"),
        "{err}"
    );

    settings["server_url"] = json!("http://127.0.0.1:9");
    settings["server_key"] = json!("s3cret-key-4711");
    let saved = call(
        &app,
        "settings_set",
        json!({ "settings": settings.clone() }),
    )
    .expect("saved");
    assert_eq!(saved["server_key"], "", "the key is never sent back");
    assert_eq!(saved["server_key_saved"], true);
    let key_file = app._data.path().join("server-key");
    assert_eq!(
        std::fs::read_to_string(&key_file).expect("kept"),
        "http://127.0.0.1:9\ns3cret-key-4711",
        "kept with the server it belongs to"
    );
    let mode = std::fs::metadata(&key_file)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "readable by this user only: {mode:o}");
    for entry in std::fs::read_dir(app._data.path())
        .expect("data dir")
        .flatten()
    {
        if entry.path() == key_file || !entry.path().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path()).expect("read");
        assert!(
            !bytes.windows(15).any(|w| w == b"s3cret-key-4711"),
            "the key is in {}",
            entry.path().display()
        );
    }
    let again = call(&app, "settings_get", json!({})).expect("settings_get");
    assert_eq!(
        (
            again["server_key"].clone(),
            again["server_key_saved"].clone()
        ),
        (json!(""), json!(true))
    );

    // The key belongs to its server: another address does not get it.
    let mut elsewhere = again.clone();
    elsewhere["server_url"] = json!("http://attacker.example:80");
    let moved = call(&app, "settings_set", json!({ "settings": elsewhere })).expect("saved");
    assert_eq!(moved["server_key_saved"], false, "{moved}");
    call(&app, "settings_set", json!({ "settings": again.clone() })).expect("saved");

    let err = call(&app, "server_test", json!({ "settings": again })).expect_err("nothing listens");
    assert_eq!(err["code"], "server_unreachable");
    assert!(
        err["message"]
            .as_str()
            .unwrap_or("")
            .contains("cannot be reached"),
        "{err}"
    );
}

/// Issue 17: the app answers from a model on a real server (llama.cpp's
/// llama-server with the tiny model): Settings name it, "Test connection"
/// finds it, the models are got ready by connecting, and the answer records
/// where it ran, with a speed verdict measured against plain writing there.
#[test]
fn the_app_answers_from_a_model_on_a_server() {
    let server = llama_server::Server::start();
    let app = app();
    let mut settings = call(&app, "settings_get", json!({})).expect("settings_get");
    settings["models_location"] = json!("server");
    settings["server_url"] = json!(server.url);
    settings["max_answer_tokens"] = json!(48);
    call(
        &app,
        "settings_set",
        json!({ "settings": settings.clone() }),
    )
    .expect("saved");
    let found =
        call(&app, "server_test", json!({ "settings": settings.clone() })).expect("connects");
    assert!(
        found["model"].as_str().unwrap_or("").contains("SmolLM2"),
        "{found}"
    );
    call(
        &app,
        "engine_prepare",
        json!({ "settings": settings.clone(), "on_event": "__CHANNEL__:11" }),
    )
    .expect("engine_prepare connects");
    call(
        &app,
        "ask",
        json!({
            "conversation_id": null,
            "question": "What is 2 + 3?",
            "settings": settings,
            "on_event": "__CHANNEL__:12"
        }),
    )
    .expect("ask");
    let list = call(&app, "conversations_list", json!({ "query": null })).expect("list");
    let conv = call(
        &app,
        "conversation_get",
        json!({ "id": list[0]["id"].clone() }),
    )
    .expect("conv");
    let answer = &conv["messages"][1];
    assert_eq!(answer["status"], "complete", "{answer}");
    // Word drafting needs the main model here: automatic mode never picks it.
    assert!(
        ["plain", "lr"].contains(&answer["mode"].as_str().unwrap_or("")),
        "{}",
        answer["mode"]
    );
    assert!(
        answer["target_model"]
            .as_str()
            .is_some_and(|t| t.contains(&server.url)),
        "where it ran: {}",
        answer["target_model"]
    );
    assert!(!answer["text"].as_str().unwrap_or("").is_empty());
}
