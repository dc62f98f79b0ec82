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

mod catalog;
mod conversations;
mod error;
mod export;
mod model;
mod rows;
mod stats;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

// Record types expose chrono types; re-exported so callers need not pin a
// matching version.
pub use chrono;
pub use error::{Result, StoreError};
pub use export::{render_markdown, ConversationExport, EXPORT_FORMAT, EXPORT_VERSION};
pub use model::*;
pub use stats::{
    AcceptanceRow, GroupBy, HistogramBucket, PositionStat, StatsFilter, Totals,
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
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|e| StoreError::InvalidInput(format!("{text:?} is not a YYYY-MM-DD date: {e}")))
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
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            busy_timeout: Duration::from_secs(5),
            max_page_count: None,
            max_connections: 4,
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
        // Checked before SQLite sees the file so that a damaged file is
        // provably left untouched (no journal-mode change, no -wal file).
        check_header(&path)?;

        let mut connect = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL rather than NORMAL: an answer the user saw must survive a
            // power cut too, and we commit only once per answer.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        if let Some(pages) = options.max_page_count {
            connect = connect.pragma("max_page_count", pages.to_string());
        }
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
                store.pool.close().await;
                Err(e)
            }
        }
    }

    /// With the user's consent, moves a damaged history file aside (renamed
    /// to `<name>.corrupt-<timestamp>`, together with its -wal/-shm files;
    /// nothing is deleted) and starts a fresh one. A healthy file is opened
    /// and left alone.
    pub async fn reset_corrupt(path: impl AsRef<Path>) -> Result<Reset> {
        Store::reset_corrupt_with(path, StoreOptions::default()).await
    }

    /// [`Store::reset_corrupt`] with explicit options.
    pub async fn reset_corrupt_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Reset> {
        let path = path.as_ref();
        match Store::open_with(path, options.clone()).await {
            Ok(store) => Ok(Reset {
                store,
                moved_to: None,
            }),
            Err(StoreError::Corrupt { .. }) => {
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

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes all connections, checkpointing the WAL into the main file.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn prepare(&self) -> Result<()> {
        self.check_integrity().await?;
        self.check_schema_version().await?;
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::from_migrate(&self.path, e))?;
        self.recover_interrupted().await
    }

    async fn check_integrity(&self) -> Result<()> {
        let problems: Vec<String> = sqlx::query_scalar("PRAGMA quick_check(5)")
            .fetch_all(&self.pool)
            .await
            .at(&self.path)?;
        if problems.len() == 1 && problems[0] == "ok" {
            return Ok(());
        }
        Err(StoreError::Corrupt {
            path: self.path.to_path_buf(),
            detail: problems.join("; "),
        })
    }

    async fn check_schema_version(&self) -> Result<()> {
        let tracked: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
        .fetch_one(&self.pool)
        .await
        .at(&self.path)?;
        if !tracked {
            return Ok(());
        }
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(&self.pool)
            .await
            .at(&self.path)?;
        let known: BTreeSet<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        let supported = schema_version();
        match applied.iter().copied().filter(|v| !known.contains(v)).max() {
            None => Ok(()),
            Some(found) if found > supported => Err(StoreError::NewerSchema {
                path: self.path.to_path_buf(),
                found,
                supported,
            }),
            Some(unknown) => Err(StoreError::Migrate(Box::new(
                sqlx::migrate::MigrateError::VersionMissing(unknown),
            ))),
        }
    }

    async fn recover_interrupted(&self) -> Result<()> {
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

    /// Starts a write transaction that takes the write lock up front, so a
    /// competing writer makes it wait (busy timeout) instead of failing
    /// half-way through with a lock upgrade deadlock.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.at(&self.path)
    }
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
        let mut from = base.clone();
        from.push(suffix);
        let from = PathBuf::from(from);
        if from.exists() {
            let mut to = target.as_os_str().to_owned();
            to.push(suffix);
            std::fs::rename(&from, PathBuf::from(to)).map_err(|e| StoreError::from_io(&from, e))?;
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
