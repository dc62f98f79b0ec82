//! Lookahead's history: conversations, answers with their lookahead steps and
//! speed/acceptance metrics, installed models and settings, in one SQLite file.
//!
//! The file is opened in WAL mode with foreign keys on and a busy timeout.
//! Schema migrations live in `migrations/` and run at [`Store::open`]. An
//! answer is written with its steps and metrics in one transaction, so a
//! crash never leaves half an answer; an answer begun with
//! [`Store::begin_answer`] and never finished is marked
//! [`MessageStatus::Interrupted`] the next time the store is opened.
//! Failures a user can act on (locked, read-only, disk full, damaged file,
//! newer schema) come back as distinct [`StoreError`] variants with a
//! [`StoreError::user_message`].
//!
//! ```no_run
//! use lookahead_store::{AnswerOutcome, AnswerStart, MessageStatus, Mode, NewAnswer, Store};
//!
//! # async fn demo() -> lookahead_store::Result<()> {
//! let store = Store::open(lookahead_store::default_db_path()?).await?;
//! let conversation = store.create_conversation("Why is the sky blue?").await?;
//! store.add_user_message(conversation.id, "Why is the sky blue?").await?;
//! store
//!     .save_answer(
//!         conversation.id,
//!         NewAnswer {
//!             start: AnswerStart {
//!                 mode: Mode::Sd,
//!                 draft_model: Some("qwen3-0.6b".into()),
//!                 target_model: Some("qwen3-8b".into()),
//!                 judge_model: None,
//!                 settings: serde_json::json!({ "gamma": 4 }),
//!             },
//!             outcome: AnswerOutcome {
//!                 text: "Rayleigh scattering.".into(),
//!                 final_answer: Some("Rayleigh scattering.".into()),
//!                 status: MessageStatus::Complete,
//!                 error: None,
//!                 steps: vec![],
//!                 metrics: None,
//!                 notes: Default::default(),
//!             },
//!             created_at: None,
//!         },
//!     )
//!     .await?;
//! for hit in store.search("rayleigh", 20).await? {
//!     println!("{}: {}", hit.conversation_title, hit.snippet);
//! }
//! # Ok(())
//! # }
//! ```

mod conversations;
mod error;
mod export;
mod model;
mod rows;
mod settings;
mod stats;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqliteConnection, SqlitePool};

// Record types expose chrono types; re-exported so callers need not pin a
// matching version.
pub use chrono;
pub use error::{Result, StoreError};
pub use export::{render_json, render_markdown, ConversationExport, EXPORT_FORMAT, EXPORT_VERSION};
pub use model::*;
pub use stats::{
    AcceptanceRow, ConfigAcceptance, GroupBy, HistogramBucket, ModeSpeed, ModelSet, PositionStat,
    StatsFilter, Totals,
};

use error::SqlxResultExt;

/// Marks the start of a matched word in [`SearchHit::snippet`]. Control
/// characters never occur in normal text, so the UI can split on them and
/// escape everything else.
pub const MATCH_START: &str = "\u{2}";
/// Marks the end of a matched word in [`SearchHit::snippet`].
pub const MATCH_END: &str = "\u{3}";

/// File name of the history database inside the data directory.
pub const DB_FILE_NAME: &str = "history.sqlite";

/// How long a deleted conversation stays in the bin (where the app's
/// "Undo" finds it) before it is wiped from the file.
pub const BIN_KEEPS: chrono::TimeDelta = chrono::TimeDelta::days(7);

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Where the history lives unless the caller says otherwise:
/// `$LOOKAHEAD_DATA_DIR/history.sqlite`, else the platform data directory
/// (`$XDG_DATA_HOME` or `~/.local/share` on Linux) + `lookahead/history.sqlite`.
pub fn default_db_path() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LOOKAHEAD_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join(DB_FILE_NAME));
    }
    dirs::data_dir()
        .map(|d| d.join("lookahead").join(DB_FILE_NAME))
        .ok_or(StoreError::NoDataDir)
}

/// Parses a calendar day written `YYYY-MM-DD` (for [`StatsFilter`]).
pub fn parse_day(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| StoreError::InvalidDate {
        text: text.to_string(),
    })
}

/// The schema version this build creates and understands (the highest
/// migration version).
pub fn schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Tuning for [`Store::open_with`]. The defaults suit the app.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a statement waits for another process's lock before failing
    /// with [`StoreError::Locked`].
    pub busy_timeout: Duration,
    /// Caps the file at this many pages (`PRAGMA max_page_count`); writes
    /// beyond it fail with [`StoreError::DiskFull`]. `None`: no cap.
    pub max_page_count: Option<u32>,
    /// Connections in the pool; WAL lets readers run beside one writer.
    pub max_connections: u32,
    /// Files up to this size get a full integrity check (`PRAGMA
    /// quick_check`, about 10 ms per MB) at open. Bigger ones get a schema
    /// check only, so that open stays fast; damage elsewhere then shows as
    /// [`StoreError::Corrupt`] from the query that reads it, and
    /// [`Store::check_integrity`] runs the full check on demand.
    pub integrity_check_max_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            busy_timeout: Duration::from_secs(5),
            max_page_count: None,
            max_connections: 4,
            integrity_check_max_bytes: 32 << 20,
        }
    }
}

/// What [`Store::reset_corrupt`] did.
#[derive(Debug, Clone)]
pub struct Reset {
    pub store: Store,
    /// Where the damaged file went; `None` when the file was healthy and was
    /// left in place.
    pub moved_to: Option<PathBuf>,
}

/// Handle to the history database. Cloning is cheap and shares the pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: Arc<PathBuf>,
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

impl Store {
    /// Opens (creating if needed) the database at `path`, migrates it, and
    /// marks answers a previous run left unfinished as interrupted.
    ///
    /// A damaged file yields [`StoreError::Corrupt`] and a file from a newer
    /// app [`StoreError::NewerSchema`]; in both cases the file is not changed.
    pub async fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path, StoreOptions::default()).await
    }

    /// [`Store::open`] with explicit options.
    pub async fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::from_io(dir, e))?;
        }
        // A file that is not SQLite at all is refused before SQLite opens it.
        check_header(&path)?;

        let mut connect = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        if let Some(pages) = options.max_page_count {
            connect = connect.pragma("max_page_count", pages.to_string());
        }

        // Judge the file on one connection that changes nothing (no journal
        // mode switch, no migration) and is closed and waited for before
        // anything else happens: a damaged or newer file stays as it was.
        let companions_before = Companions::of(&path);
        let mut probe = connect.clone().connect().await.at(&path)?;
        let full_check = std::fs::metadata(&path)
            .map(|m| m.len() <= options.integrity_check_max_bytes)
            .unwrap_or(true);
        let verdict = check_file(&mut probe, &path, full_check).await;
        let _ = probe.close().await;
        if let Err(e) = verdict {
            if matches!(
                e,
                StoreError::Corrupt { .. } | StoreError::NewerSchema { .. }
            ) {
                companions_before.remove_new_empty(&path);
            }
            return Err(e);
        }

        let connect = connect
            .journal_mode(SqliteJournalMode::Wal)
            // FULL rather than NORMAL: an answer the user saw must survive a
            // power cut too, and we commit only once per answer.
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            // Waiting for a pooled connection is only ever waiting for a
            // lock, so give up shortly after SQLite itself would.
            .acquire_timeout(options.busy_timeout + Duration::from_secs(2))
            .connect_with(connect)
            .await
            .at(&path)?;

        let store = Store {
            pool,
            path: Arc::new(path),
        };
        match store.prepare().await {
            Ok(()) => Ok(store),
            Err(e) => {
                store.close().await;
                Err(e)
            }
        }
    }

    /// Opens the history for reading only: no migration, no recovery of
    /// unfinished answers, no write lock and no writes, so it works beside
    /// another process that is writing (the app answering), on a history
    /// the user may not write, and never marks a live answer interrupted.
    /// A history that does not exist yet, or that an older build wrote
    /// (migrations to run), is opened normally instead. A damaged or newer
    /// file is refused as by [`Store::open`].
    pub async fn open_read_only(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        if !path.is_file() {
            return Store::open(&path).await;
        }
        check_header(&path)?;
        let options = StoreOptions::default();
        let connect = SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let mut probe = connect.clone().connect().await.at(&path)?;
        let verdict = check_file(&mut probe, &path, false).await;
        let applied: Option<i64> = match &verdict {
            Ok(()) => {
                sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success = 1")
                    .fetch_one(&mut probe)
                    .await
                    .ok()
                    .flatten()
            }
            Err(_) => None,
        };
        let _ = probe.close().await;
        verdict?;
        if applied.unwrap_or(0) < schema_version() {
            return Store::open(&path).await;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .acquire_timeout(options.busy_timeout + Duration::from_secs(2))
            .connect_with(connect)
            .await
            .at(&path)?;
        Ok(Store {
            pool,
            path: Arc::new(path),
        })
    }

    /// With the user's consent, moves a damaged history file aside (renamed
    /// to `<name>.corrupt-<timestamp>`, together with its -wal/-shm files;
    /// nothing is deleted) and starts a fresh one. A healthy file is opened
    /// and left alone.
    pub async fn reset_corrupt(path: impl AsRef<Path>) -> Result<Reset> {
        Store::reset_corrupt_with(path, StoreOptions::default()).await
    }

    /// [`Store::reset_corrupt`] with explicit options.
    pub async fn reset_corrupt_with(
        path: impl AsRef<Path>,
        options: StoreOptions,
    ) -> Result<Reset> {
        let path = path.as_ref();
        match Store::open_with(path, options.clone()).await {
            Ok(store) => Ok(Reset {
                store,
                moved_to: None,
            }),
            Err(StoreError::Corrupt { .. } | StoreError::MigrationChanged { .. }) => {
                let moved_to = move_aside(path)?;
                tracing::warn!(
                    "moved damaged history {} to {}",
                    path.display(),
                    moved_to.display()
                );
                let store = Store::open_with(path, options).await?;
                Ok(Reset {
                    store,
                    moved_to: Some(moved_to),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Checks the whole file for damage (the check [`Store::open`] skips
    /// on large files); [`StoreError::Corrupt`] if any is found. Takes about
    /// 10 ms per MB; meant for a background task or a "check history" button.
    pub async fn check_integrity(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await.at(&self.path)?;
        integrity(&mut conn, &self.path).await
    }

    /// Says "this process is writing an answer" until the guard is
    /// dropped (a shared lock on `<history>.answering`, which any number of
    /// processes may hold at once), so another process that opens the
    /// history for writing does not mark the live answer interrupted.
    pub fn answering(&self) -> Result<AnsweringGuard> {
        Store::answering_at(&self.path)
    }

    /// [`Store::answering`] for the history at `db` (without opening it).
    pub fn answering_at(db: &Path) -> Result<AnsweringGuard> {
        let marker = answering_marker(db);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&marker)
            .map_err(|e| StoreError::from_io(&marker, e))?;
        file.lock_shared()
            .map_err(|e| StoreError::from_io(&marker, e))?;
        Ok(AnsweringGuard { _file: file })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes all connections, checkpointing the WAL into the main file.
    /// Other clones of this `Store` stop working too.
    pub async fn close(&self) {
        self.pool.close().await;
        // A connection that was on its way back to the pool when closing
        // began is left idle by sqlx and closed only when the pool is
        // dropped; closing again picks it up.
        for _ in 0..200 {
            if self.pool.size() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.pool.close().await;
        }
        // Connections that close at the same moment on different threads
        // each see the other still open, so none of them checkpoints and
        // removes the -wal file. One last connection on its own does (unless
        // another process has the file open, when the WAL rightly stays).
        if companion(&self.path, "-wal").exists() {
            let last = SqliteConnectOptions::new()
                .filename(&*self.path)
                .busy_timeout(Duration::from_millis(100))
                .connect()
                .await;
            if let Ok(mut conn) = last {
                let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
        }
    }

    async fn prepare(&self) -> Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::from_migrate(&self.path, e))?;
        self.recover_interrupted().await
    }

    /// Marks answers left `in_progress` as interrupted, unless some process
    /// is writing an answer right now ([`Store::answering`] holds the
    /// marker): then they may be its live answers, and they are left alone
    /// (the next open after it ends recovers them).
    async fn recover_interrupted(&self) -> Result<()> {
        // The marker exists once some process has answered; without it (or
        // in a folder we may not write) nobody is answering now.
        let marker = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(answering_marker(&self.path));
        let _held = match marker {
            Ok(file) => match file.try_lock() {
                Ok(()) => Some(file),
                Err(std::fs::TryLockError::WouldBlock) => {
                    tracing::info!("another process is answering; unfinished answers left to it");
                    return Ok(());
                }
                Err(std::fs::TryLockError::Error(_)) => None,
            },
            Err(_) => None,
        };
        let result = sqlx::query(
            "UPDATE messages SET status = 'interrupted', finished_at = ?1,
                 error = COALESCE(error, 'Lookahead stopped before this answer was finished.')
             WHERE status = 'in_progress'",
        )
        .bind(ts(now()))
        .execute(&self.pool)
        .await
        .at(&self.path)?;
        if result.rows_affected() > 0 {
            tracing::warn!(
                "marked {} unfinished answer(s) as interrupted",
                result.rows_affected()
            );
        }
        Ok(())
    }

    /// Runs `work` in one write transaction and commits it.
    ///
    /// The transaction takes the write lock up front (BEGIN IMMEDIATE), so a
    /// competing writer makes it wait for the busy timeout instead of failing
    /// half-way with a lock-upgrade deadlock. After a failure the connection
    /// is closed, not reused: on SQLITE_FULL and some I/O errors SQLite has
    /// already rolled back by itself, and sqlx would then keep the
    /// connection marked as inside a transaction.
    async fn write<T>(
        &self,
        work: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.pool.acquire().await.at(&self.path)?;
        let result = async {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.at(&self.path)?;
            let value = work(&mut tx).await?;
            tx.commit().await.at(&self.path)?;
            Ok(value)
        }
        .await;
        if result.is_err() {
            conn.close_on_drop();
        }
        result
    }
}

/// Refuses a damaged file (integrity check) and one written by a newer app
/// (migrations this build does not know).
async fn check_file(conn: &mut SqliteConnection, path: &Path, full: bool) -> Result<()> {
    if full {
        integrity(conn, path).await?;
    }
    // Reading the schema (always) parses every table definition, which
    // catches a damaged schema even when the full check is skipped.
    let tracked: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(&mut *conn)
    .await
    .at(path)?;
    if !tracked {
        return Ok(());
    }
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(&mut *conn)
        .await
        .at(path)?;
    let known: BTreeSet<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    let supported = schema_version();
    match applied.iter().copied().filter(|v| !known.contains(v)).max() {
        None => Ok(()),
        Some(found) if found > supported => Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported,
        }),
        Some(unknown) => Err(StoreError::Migrate(Box::new(
            sqlx::migrate::MigrateError::VersionMissing(unknown),
        ))),
    }
}

/// `PRAGMA quick_check`: every page and index, not the FTS contents.
async fn integrity(conn: &mut SqliteConnection, path: &Path) -> Result<()> {
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA quick_check(5)")
        .fetch_all(&mut *conn)
        .await
        .at(path)?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    Err(StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: problems.join("; "),
    })
}

fn check_header(path: &Path) -> Result<()> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::from_io(path, e)),
    };
    let mut header = Vec::with_capacity(SQLITE_MAGIC.len());
    (&mut file)
        .take(SQLITE_MAGIC.len() as u64)
        .read_to_end(&mut header)
        .map_err(|e| StoreError::from_io(path, e))?;
    // SQLite treats an empty file as an empty database.
    if header.is_empty() || header.as_slice() == SQLITE_MAGIC {
        return Ok(());
    }
    Err(StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: "the file is not an SQLite database".to_owned(),
    })
}

/// Which of the -wal/-shm files beside a database existed.
struct Companions {
    wal: bool,
    shm: bool,
}

impl Companions {
    fn of(path: &Path) -> Companions {
        Companions {
            wal: companion(path, "-wal").exists(),
            shm: companion(path, "-shm").exists(),
        }
    }

    /// SQLite cannot checkpoint a damaged file on close and leaves an empty
    /// -wal (and sometimes the -shm index) behind. Removing what this open
    /// created keeps the promise that a refused file is left as it was;
    /// neither holds data when empty or when it is only the index.
    fn remove_new_empty(&self, path: &Path) {
        let wal = companion(path, "-wal");
        if !self.wal && std::fs::metadata(&wal).is_ok_and(|m| m.len() == 0) {
            let _ = std::fs::remove_file(&wal);
        }
        let shm = companion(path, "-shm");
        if !self.shm && !wal.exists() {
            let _ = std::fs::remove_file(&shm);
        }
    }
}

/// Held while answers are being written; see [`Store::answering`].
fn answering_marker(db: &Path) -> PathBuf {
    companion(db, ".answering")
}

/// Proof that this process is writing an answer: while any process holds
/// one, no other process opening the history marks unfinished answers
/// interrupted. Released when dropped (or when the process dies).
#[derive(Debug)]
pub struct AnsweringGuard {
    _file: std::fs::File,
}

fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn move_aside(path: &Path) -> Result<PathBuf> {
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    let base = path.as_os_str().to_owned();
    let mut target = None;
    for attempt in 0..100 {
        let mut candidate = base.clone();
        candidate.push(format!(".corrupt-{stamp}"));
        if attempt > 0 {
            candidate.push(format!("-{attempt}"));
        }
        let candidate = PathBuf::from(candidate);
        if !candidate.exists() {
            target = Some(candidate);
            break;
        }
    }
    let target = target.ok_or_else(|| StoreError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "too many damaged copies with the same timestamp",
        ),
    })?;
    // The WAL belongs to the damaged file; left behind, SQLite would replay
    // it into the fresh database.
    for suffix in ["-wal", "-shm", "-journal"] {
        let from = companion(path, suffix);
        if from.exists() {
            std::fs::rename(&from, companion(&target, suffix))
                .map_err(|e| StoreError::from_io(&from, e))?;
        }
    }
    std::fs::rename(path, &target).map_err(|e| StoreError::from_io(path, e))?;
    Ok(target)
}

/// Current time at the precision stored (milliseconds), so that a record
/// returned by a write equals the same record read back.
pub(crate) fn now() -> DateTime<Utc> {
    truncate_ms(Utc::now())
}

pub(crate) fn truncate_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// The stored timestamp format; see the note in the first migration.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
