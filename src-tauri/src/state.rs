//! What the app holds while it runs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use lookahead_engine::CancelFlag;
use lookahead_store::Store;
use tokio::sync::RwLock;

use crate::error::{CommandError, CommandResult};
use crate::settings::{Settings, SETTINGS_KEY};
use crate::worker::EngineWorker;

/// Store errors worth opening the file again for.
const TRANSIENT: [&str; 4] = ["store_locked", "store_read_only", "disk_full", "io"];

pub struct AppState {
    pub data_dir: PathBuf,
    /// None when the history file could not be opened (damaged, newer
    /// schema...): the app still runs and says why.
    store: RwLock<Result<Store, CommandError>>,
    pub worker: EngineWorker,
    /// Running answers by request id, so `cancel` can reach them.
    pub running: Mutex<HashMap<String, CancelFlag>>,
    /// The model download in progress, so `models_fetch_cancel` can stop it.
    pub fetching: Mutex<Option<CancelFlag>>,
}

impl AppState {
    pub async fn open(data_dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&data_dir)?;
        let store = open_store(&data_dir.join("history.sqlite")).await;
        Ok(Self {
            data_dir,
            store: RwLock::new(store),
            worker: EngineWorker::spawn()?,
            running: Mutex::new(HashMap::new()),
            fetching: Mutex::new(None),
        })
    }

    /// Registers model work (a download, a folder import) that
    /// `models_fetch_cancel` can stop; the registration ends when the
    /// returned guard is dropped, however the work ends.
    pub fn model_work(&self) -> ModelWork<'_> {
        let cancel = CancelFlag::new();
        if let Ok(mut fetching) = self.fetching.lock() {
            *fetching = Some(cancel.clone());
        }
        ModelWork {
            state: self,
            cancel,
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("history.sqlite")
    }

    /// The open store, or the reason it is not open. A failure that may
    /// have passed (the file was locked by another program, the folder was
    /// not writable for a moment) is retried on every call instead of being
    /// remembered until the app restarts; a damaged or newer file is not
    /// retried (it needs the user's decision, [`crate::commands::settings::store_reset`]).
    pub async fn store(&self) -> CommandResult<Store> {
        let cached = self.store.read().await.clone();
        match cached {
            Err(e) if TRANSIENT.contains(&e.code.as_str()) => {
                let mut slot = self.store.write().await;
                if let Err(e) = &*slot {
                    if TRANSIENT.contains(&e.code.as_str()) {
                        *slot = open_store(&self.db_path()).await;
                    }
                }
                slot.clone()
            }
            other => other,
        }
    }

    pub async fn replace_store(&self, store: Result<Store, CommandError>) {
        *self.store.write().await = store;
    }

    pub async fn settings(&self) -> CommandResult<Settings> {
        let store = self.store().await?;
        // Settings a later version wrote (a choice this one does not know)
        // give way to the defaults rather than lock the user out.
        let saved = match store.get_setting::<Settings>(SETTINGS_KEY).await {
            Err(lookahead_store::StoreError::Json(e)) => {
                eprintln!("lookahead: saved settings unreadable, using the defaults: {e}");
                None
            }
            other => other?,
        };
        Ok(self.with_server_key(saved.unwrap_or_default()))
    }

    /// Where the server's API key is kept: its own file, readable by this
    /// user only, never the history file.
    pub fn server_key_path(&self) -> PathBuf {
        self.data_dir.join("server-key")
    }

    /// `settings` with the kept server key filled in for the engine (and
    /// `server_key_saved` saying whether there is one); whatever key the
    /// page sent is not used. A key belongs to the server it was saved
    /// with: it is never sent to another address, whoever names it.
    pub fn with_server_key(&self, mut settings: Settings) -> Settings {
        let kept = std::fs::read_to_string(self.server_key_path()).unwrap_or_default();
        let (url, key) = kept.split_once('\n').unwrap_or(("", ""));
        settings.server_key_kept = Some(key.trim().to_string())
            .filter(|k| !k.is_empty() && same_server(url, &settings.server_url));
        settings.server_key_saved = settings.server_key_kept.is_some();
        settings.server_key.clear();
        settings
    }

    /// Keeps a new API key for the server at `url` (replacing the old one).
    pub fn save_server_key(&self, url: &str, key: &str) -> CommandResult<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.server_key_path();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| {
                f.write_all(format!("{}\n{}", url.trim(), key.trim()).as_bytes())?;
                Ok(f)
            })
            .map_err(|e| {
                CommandError::new("save_failed", "The server key could not be kept.")
                    .with_details(e)
            })?;
        let _ = file.flush();
        Ok(())
    }

    pub fn register(&self, request_id: &str, cancel: CancelFlag) {
        if let Ok(mut running) = self.running.lock() {
            running.insert(request_id.to_string(), cancel);
        }
    }

    pub fn unregister(&self, request_id: &str) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(request_id);
        }
    }

    pub fn cancel(&self, request_id: &str) -> bool {
        self.running
            .lock()
            .ok()
            .and_then(|running| running.get(request_id).cloned())
            .map(|flag| flag.cancel())
            .is_some()
    }
}

/// Opens the history for the app, and wipes the conversations deleted more
/// than a week ago (`lookahead_store::BIN_KEEPS`) from it: failing to wipe
/// them costs nothing now, so that error is not the app's.
async fn open_store(path: &std::path::Path) -> CommandResult<Store> {
    let store = Store::open(path).await.map_err(CommandError::from)?;
    let _ = store.empty_expired_bin().await;
    Ok(store)
}

/// Two ways of writing one server address ("http://h:8000/" and "http://h:8000").
fn same_server(a: &str, b: &str) -> bool {
    let norm = |u: &str| u.trim().trim_end_matches('/').to_lowercase();
    !a.trim().is_empty() && norm(a) == norm(b)
}

/// Model work `models_fetch_cancel` can stop (see [`AppState::model_work`]).
pub struct ModelWork<'a> {
    state: &'a AppState,
    pub cancel: CancelFlag,
}

impl Drop for ModelWork<'_> {
    fn drop(&mut self) {
        if let Ok(mut fetching) = self.state.fetching.lock() {
            *fetching = None;
        }
    }
}
