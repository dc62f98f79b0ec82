//! The engine lives on its own thread: model loading and generation block
//! for seconds to minutes and must never run on the UI's event loop. The
//! worker keeps the loaded models between questions, loads them ahead of
//! the first question when asked to ([`EngineWorker::prepare`]), and
//! reloads only when the chosen models change.

use std::sync::mpsc;
use std::thread;

use lookahead_engine::{
    Answer, AnswerEvent, AskOptions, CancelFlag, ChatTurn, Engine, EngineConfig, EngineError,
    LoadProgress, PlainSpeed,
};
use serde::Serialize;
use tokio::sync::oneshot;

type EventSink = Box<dyn FnMut(AnswerEvent) + Send>;
type PrepareSink = Box<dyn FnMut(PrepareEvent) + Send>;

/// Where getting the models ready has got to, for "Getting the models
/// ready…" in the app.
#[derive(Serialize, Clone, Debug, PartialEq, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrepareEvent {
    /// Loading one model file (`index` of `count`, from 1).
    Loading {
        model: String,
        #[ts(type = "ModelRole")]
        role: String,
        index: usize,
        count: usize,
    },
    /// Timing plain decoding on a short question of our own, so every
    /// answer can say how it compares with the usual speed.
    Measuring,
    /// Ready to answer.
    Ready,
}

struct AskJob {
    config: EngineConfig,
    /// Earlier turns of the conversation, oldest first.
    history: Vec<ChatTurn>,
    question: String,
    options: AskOptions,
    /// This computer's plain speed with this target, where known.
    plain_speed: Option<PlainSpeed>,
    cancel: CancelFlag,
    on_event: EventSink,
    /// Told when models have to be loaded first.
    on_load: PrepareSink,
    reply: oneshot::Sender<Result<Answer, EngineError>>,
}

struct PrepareJob {
    config: EngineConfig,
    /// The plain speed already known; measured when `None`.
    plain_speed: Option<PlainSpeed>,
    on_event: PrepareSink,
    /// The plain speed measured, if one was.
    reply: oneshot::Sender<Result<Option<PlainSpeed>, EngineError>>,
}

enum Job {
    Ask(Box<AskJob>),
    Prepare(Box<PrepareJob>),
    /// Panics on the engine thread, to test that a panic costs one job.
    #[cfg(test)]
    Panic(oneshot::Sender<Result<(), EngineError>>),
}

/// A handle to the engine thread. Cheap to clone.
#[derive(Clone)]
pub struct EngineWorker {
    jobs: mpsc::Sender<Job>,
}

fn stopped() -> EngineError {
    EngineError::Generation("the engine thread has stopped".into())
}

impl EngineWorker {
    pub fn spawn() -> std::io::Result<Self> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("lookahead-engine".into())
            .spawn(move || run(inbox))?;
        Ok(Self { jobs })
    }

    /// Loads the models of `config` (if they are not loaded already) and,
    /// when `plain_speed` is unknown, measures it. Resolves with the speed
    /// measured. Questions asked meanwhile wait for it.
    pub async fn prepare(
        &self,
        config: EngineConfig,
        plain_speed: Option<PlainSpeed>,
        on_event: PrepareSink,
    ) -> Result<Option<PlainSpeed>, EngineError> {
        let (reply, done) = oneshot::channel();
        self.jobs
            .send(Job::Prepare(Box::new(PrepareJob {
                config,
                plain_speed,
                on_event,
                reply,
            })))
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }

    /// Answers on the engine thread; resolves when the answer is done,
    /// stopped or failed. Events arrive through `on_event` meanwhile.
    #[allow(clippy::too_many_arguments)]
    pub async fn ask(
        &self,
        config: EngineConfig,
        history: Vec<ChatTurn>,
        question: String,
        options: AskOptions,
        plain_speed: Option<PlainSpeed>,
        cancel: CancelFlag,
        on_event: EventSink,
        on_load: PrepareSink,
    ) -> Result<Answer, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Ask(Box::new(AskJob {
                config,
                history,
                question,
                options,
                plain_speed,
                cancel,
                on_event,
                on_load,
                reply,
            })))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The loaded models serve `wanted` if the target is the same (the same
/// file here, or the same server and model) and any draft it needs is the
/// one loaded (a loaded draft that is not needed does no harm).
fn serves(loaded: &EngineConfig, wanted: &EngineConfig) -> bool {
    let same_target = match &wanted.target_server {
        Some(server) => loaded.target_server.as_ref() == Some(server),
        None => loaded.target_server.is_none() && loaded.target == wanted.target,
    };
    let draft_ok = match &wanted.draft_server {
        Some(server) => loaded.draft_server.as_ref() == Some(server),
        None => wanted.draft.is_none() || wanted.draft == loaded.draft,
    };
    same_target && draft_ok && loaded.backend == wanted.backend
}

/// Makes sure the models of `config` are loaded, telling `on_event` about
/// each file it loads.
fn ensure_loaded<'a>(
    loaded: &'a mut Option<(EngineConfig, Engine)>,
    config: &EngineConfig,
    on_event: &mut PrepareSink,
) -> Result<&'a mut Engine, EngineError> {
    if !matches!(loaded, Some((have, _)) if serves(have, config)) {
        // Free the old models before loading new ones: two pairs may not
        // fit in memory together.
        *loaded = None;
        let count = 1 + usize::from(config.draft.is_some());
        let mut index = 0;
        let engine = Engine::load(config, &mut |p: LoadProgress| {
            if !p.done {
                index += 1;
                on_event(PrepareEvent::Loading {
                    model: p.model,
                    role: p.role,
                    index,
                    count,
                });
            }
        })?;
        *loaded = Some((config.clone(), engine));
    }
    match loaded {
        Some((_, engine)) => Ok(engine),
        None => Err(EngineError::Load("no engine".into())),
    }
}

/// Runs one job's work; a panic inside it becomes an error for that job
/// alone, and the loaded models are dropped (they may be half-changed), so
/// the next question loads them afresh instead of the app needing a restart.
fn guarded<T>(
    loaded: &mut Option<(EngineConfig, Engine)>,
    work: impl FnOnce(&mut Option<(EngineConfig, Engine)>) -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(loaded))) {
        Ok(result) => result,
        Err(panic) => {
            *loaded = None;
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            eprintln!("Lookahead: the engine panicked ({what}); its models will be loaded again");
            Err(EngineError::Generation(format!(
                "the engine stopped unexpectedly ({what}); it has been reset"
            )))
        }
    }
}

fn run(inbox: mpsc::Receiver<Job>) {
    let mut loaded: Option<(EngineConfig, Engine)> = None;
    while let Ok(job) = inbox.recv() {
        match job {
            Job::Prepare(mut job) => {
                let result = guarded(&mut loaded, |loaded| {
                    let engine = ensure_loaded(loaded, &job.config, &mut job.on_event)?;
                    engine.set_plain_speed(job.plain_speed);
                    let measured = if engine.plain_speed().is_none() {
                        (job.on_event)(PrepareEvent::Measuring);
                        engine.measure_plain_speed(&CancelFlag::new())?
                    } else {
                        None
                    };
                    (job.on_event)(PrepareEvent::Ready);
                    Ok(measured)
                });
                let _ = job.reply.send(result);
            }
            Job::Ask(mut job) => {
                let result = guarded(&mut loaded, |loaded| {
                    if job.cancel.is_cancelled() {
                        return Err(EngineError::Cancelled);
                    }
                    let engine = ensure_loaded(loaded, &job.config, &mut job.on_load)?;
                    engine.set_plain_speed(job.plain_speed);
                    engine.ask_in(
                        &job.history,
                        &job.question,
                        &job.options,
                        &job.cancel,
                        &mut job.on_event,
                    )
                });
                let _ = job.reply.send(result);
            }
            #[cfg(test)]
            Job::Panic(reply) => {
                let result = guarded(&mut loaded, |_| -> Result<(), EngineError> {
                    panic!("injected panic")
                });
                let _ = reply.send(result);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17 (found by the real-app test): switching the main model to
    /// a server must not keep answering with the file loaded here.
    #[test]
    fn a_model_on_a_server_is_not_served_by_the_file_loaded_here() {
        use lookahead_engine::ServerConfig;
        let local = EngineConfig::new("/models/target.gguf".into(), None);
        let server = |model: &str| ServerConfig {
            url: "http://gpu-box:8000".into(),
            model: Some(model.into()),
            api_key: None,
            openai_only: false,
        };
        let remote = EngineConfig {
            target_server: Some(server("big")),
            ..local.clone()
        };
        assert!(serves(&local, &local));
        assert!(
            !serves(&local, &remote),
            "a server target is not the local file"
        );
        assert!(!serves(&remote, &local), "and back");
        assert!(serves(&remote, &remote.clone()));
        let other = EngineConfig {
            target_server: Some(server("other")),
            ..local.clone()
        };
        assert!(!serves(&remote, &other), "another model on the server");
    }

    #[test]
    fn a_panic_fails_one_job_and_the_engine_keeps_serving() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let worker = EngineWorker::spawn().expect("worker");
        runtime.block_on(async {
            let (reply, done) = oneshot::channel();
            worker.jobs.send(Job::Panic(reply)).expect("send");
            let err = done
                .await
                .expect("a reply, not a dead thread")
                .expect_err("panicked");
            assert!(err.to_string().contains("injected panic"), "{err}");
            // The thread is alive: the next job is answered on its merits.
            let missing = EngineConfig::new("/nonexistent/model.gguf".into(), None);
            let err = worker
                .prepare(missing, None, Box::new(|_| {}))
                .await
                .expect_err("no such model");
            assert!(
                !err.to_string().contains("stopped"),
                "the engine thread survived: {err}"
            );
        });
    }
}
