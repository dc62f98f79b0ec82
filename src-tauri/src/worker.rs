//! The engine lives on its own thread: model loading and generation block
//! for seconds to minutes and must never run on the UI's event loop. The
//! worker keeps the loaded models between questions and reloads only when
//! the chosen models change.

use std::sync::mpsc;
use std::thread;

use lookahead_engine::{
    Answer, AnswerEvent, AskOptions, CancelFlag, ChatTurn, Engine, EngineConfig, EngineError,
};
use tokio::sync::oneshot;

type EventSink = Box<dyn FnMut(AnswerEvent) + Send>;

struct AskJob {
    config: EngineConfig,
    /// Earlier turns of the conversation, oldest first.
    history: Vec<ChatTurn>,
    question: String,
    options: AskOptions,
    cancel: CancelFlag,
    on_event: EventSink,
    reply: oneshot::Sender<Result<Answer, EngineError>>,
}

/// A handle to the engine thread. Cheap to clone.
#[derive(Clone)]
pub struct EngineWorker {
    jobs: mpsc::Sender<AskJob>,
}

impl EngineWorker {
    pub fn spawn() -> std::io::Result<Self> {
        let (jobs, inbox) = mpsc::channel::<AskJob>();
        thread::Builder::new()
            .name("lookahead-engine".into())
            .spawn(move || run(inbox))?;
        Ok(Self { jobs })
    }

    /// Answers on the engine thread; resolves when the answer is done,
    /// stopped or failed. Events arrive through `on_event` meanwhile.
    pub async fn ask(
        &self,
        config: EngineConfig,
        history: Vec<ChatTurn>,
        question: String,
        options: AskOptions,
        cancel: CancelFlag,
        on_event: EventSink,
    ) -> Result<Answer, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(AskJob {
                config,
                history,
                question,
                options,
                cancel,
                on_event,
                reply,
            })
            .map_err(|_| EngineError::Generation("the engine thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| EngineError::Generation("the engine thread has stopped".into()))?
    }
}

fn run(inbox: mpsc::Receiver<AskJob>) {
    let mut loaded: Option<(EngineConfig, Engine)> = None;
    while let Ok(mut job) = inbox.recv() {
        let result = (|| {
            if job.cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let reuse = matches!(&loaded, Some((config, _)) if *config == job.config);
            if !reuse {
                // Free the old models before loading new ones: two pairs
                // may not fit in memory together.
                loaded = None;
                loaded = Some((job.config.clone(), Engine::load(&job.config, &mut |_| {})?));
            }
            let Some((_, engine)) = loaded.as_mut() else {
                return Err(EngineError::Load("no engine".into()));
            };
            engine.ask_in(
                &job.history,
                &job.question,
                &job.options,
                &job.cancel,
                &mut job.on_event,
            )
        })();
        let _ = job.reply.send(result);
    }
}
