use std::io;
use std::path::{Path, PathBuf};

use sqlx::migrate::MigrateError;

/// Everything that can go wrong in the store.
///
/// The first group (`Locked` .. `NewerSchema`) are conditions a user can act
/// on; [`StoreError::user_message`] explains each in plain words. The rest
/// are bugs or unexpected failures and carry the underlying error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds a lock on the database for longer than the busy
    /// timeout.
    #[error("the history database {} is locked by another process", path.display())]
    Locked { path: PathBuf },

    /// The file or its folder cannot be written (permissions, read-only
    /// file system) or cannot be opened at all.
    #[error("the history database {} cannot be written: {detail}", path.display())]
    ReadOnly { path: PathBuf, detail: String },

    /// SQLITE_FULL or ENOSPC: the disk (or the configured size cap) is full.
    /// The transaction that hit it was rolled back.
    #[error("no space left to write the history database {}", path.display())]
    DiskFull { path: PathBuf },

    /// The file is not an SQLite database or fails its integrity check.
    /// Nothing was changed; see [`crate::Store::reset_corrupt`].
    #[error("the history database {} is damaged: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },

    /// The database was written by a newer version of the app (it has
    /// migrations this build does not know). Nothing was changed.
    #[error(
        "the history database {} has schema version {found}, newer than the {supported} this build supports",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// The history was migrated by a build whose migration `version` had
    /// different text (a development build): this build cannot safely
    /// continue it. Nothing was changed; it can be moved aside like a
    /// damaged file ([`crate::Store::reset_corrupt`]).
    #[error("the history database {} was set up by a different build (migration {version} differs)", path.display())]
    MigrationChanged { path: PathBuf, version: i64 },

    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: i64 },

    /// `finish_answer` on an answer that is already finished.
    #[error("answer {message_id} is not in progress")]
    NotInProgress { message_id: i64 },

    /// The caller passed something the store refuses to save.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A day that is not written `YYYY-MM-DD`.
    #[error("{text:?} is not a YYYY-MM-DD date")]
    InvalidDate { text: String },

    /// A conversation exported by a newer Lookahead (a higher export version).
    #[error("export version {version} is newer than this build's")]
    NewerExport { version: u32 },

    /// An import file that is not a Lookahead conversation export.
    #[error("not a Lookahead conversation export: {0}")]
    InvalidImport(String),

    /// Neither `$LOOKAHEAD_DATA_DIR` nor a platform data directory is known.
    #[error("no data directory: set LOOKAHEAD_DATA_DIR")]
    NoDataDir,

    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("migrating the history database failed: {0}")]
    Migrate(#[source] Box<MigrateError>),

    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),

    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

/// Crate-wide result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// A stable, machine-readable code for front ends (the desktop UI offers
    /// "start a fresh history" on `store_corrupt`, for example).
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Locked { .. } => "store_locked",
            StoreError::ReadOnly { .. } => "store_read_only",
            StoreError::DiskFull { .. } => "disk_full",
            StoreError::Corrupt { .. } => "store_corrupt",
            StoreError::NewerSchema { .. } => "store_newer_schema",
            StoreError::NotFound { .. } => "not_found",
            StoreError::NotInProgress { .. } => "not_in_progress",
            StoreError::InvalidInput(_) => "invalid_input",
            StoreError::InvalidDate { .. } => "invalid_date",
            StoreError::NewerExport { .. } => "newer_export",
            StoreError::InvalidImport(_) => "invalid_import",
            StoreError::NoDataDir => "no_data_dir",
            StoreError::Io { .. } => "io",
            StoreError::Migrate(_) => "store_migrate",
            StoreError::MigrationChanged { .. } => "store_migration_changed",
            StoreError::Json(_) => "json",
            StoreError::Database(_) => "database",
        }
    }

    /// A sentence or two for the person using the app: what happened, whether
    /// their history is safe, and what to do.
    pub fn user_message(&self) -> String {
        match self {
            StoreError::Locked { .. } => "The history file is in use by another program \
                (perhaps a second Lookahead window or the lookahead command). \
                Close it and try again."
                .to_owned(),
            StoreError::ReadOnly { path, .. } => format!(
                "Lookahead cannot save its history in {}. Check that the folder exists \
                 and that you may write to it, or choose another location.",
                folder_of(path).display()
            ),
            StoreError::DiskFull { .. } => "The disk is full, so this could not be saved. \
                Your earlier history is safe. Free some space and try again."
                .to_owned(),
            StoreError::Corrupt { path, .. } => format!(
                "The history file is damaged. Lookahead can move it aside (it is kept, \
                 not deleted, next to {}) and start a fresh history.",
                path.display()
            ),
            StoreError::NewerSchema { .. } => "This history was saved by a newer version \
                of Lookahead. Update Lookahead to open it; the file has not been changed."
                .to_owned(),
            StoreError::MigrationChanged { path, .. } => format!(
                "This history was set up by a different build of Lookahead (a test or \
                 development version), and this one cannot continue it safely. The file \
                 has not been changed. Lookahead can move it aside (it is kept, not \
                 deleted, next to {}) and start a fresh history.",
                path.display()
            ),
            StoreError::NotFound { what, .. } => format!("That {what} no longer exists."),
            StoreError::NotInProgress { .. } => {
                "This answer was already saved and cannot be changed.".to_owned()
            }
            StoreError::InvalidInput(detail) => {
                format!("Lookahead refused to save this: {detail}.")
            }
            StoreError::InvalidDate { text } => {
                format!("\"{text}\" is not a date. Write dates like 2026-11-28 (year-month-day).")
            }
            StoreError::NewerExport { .. } => "This conversation was exported by a newer version \
                of Lookahead. Update Lookahead to import it."
                .to_owned(),
            StoreError::InvalidImport(detail) => {
                format!("This file is not a conversation exported from Lookahead ({detail}).")
            }
            StoreError::NoDataDir => "Lookahead could not find a folder for its history. \
                Set LOOKAHEAD_DATA_DIR to a writable folder."
                .to_owned(),
            StoreError::Io { path, source } => format!(
                "Lookahead could not read or write {} ({source}).",
                path.display()
            ),
            StoreError::Migrate(_) | StoreError::Json(_) | StoreError::Database(_) => format!(
                "Something went wrong with the history database ({self}). \
                 Your earlier history has not been changed."
            ),
        }
    }

    /// Classifies an sqlx error against the database at `path`.
    pub(crate) fn from_sqlx(path: &Path, err: sqlx::Error) -> StoreError {
        let path = path.to_path_buf();
        match err {
            sqlx::Error::Database(db) => {
                let code = db
                    .code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .unwrap_or_default();
                let detail = db.message().to_owned();
                // Extended result codes carry the primary code in the low byte.
                match code & 0xff {
                    SQLITE_BUSY | SQLITE_LOCKED => StoreError::Locked { path },
                    SQLITE_FULL => StoreError::DiskFull { path },
                    SQLITE_CORRUPT | SQLITE_NOTADB => StoreError::Corrupt { path, detail },
                    // CANTOPEN is what SQLite reports when it may not create the
                    // file, or its -wal/-shm companions, in an unwritable folder.
                    SQLITE_READONLY | SQLITE_PERM | SQLITE_CANTOPEN => {
                        StoreError::ReadOnly { path, detail }
                    }
                    _ => StoreError::Database(sqlx::Error::Database(db)),
                }
            }
            sqlx::Error::Io(source) => StoreError::from_io(&path, source),
            // The pool only times out when every connection waits on a lock.
            sqlx::Error::PoolTimedOut => StoreError::Locked { path },
            sqlx::Error::Migrate(m) => StoreError::from_migrate(&path, *m),
            other => StoreError::Database(other),
        }
    }

    pub(crate) fn from_migrate(path: &Path, err: MigrateError) -> StoreError {
        match err {
            MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => {
                match StoreError::from_sqlx(path, e) {
                    StoreError::Database(e) => {
                        StoreError::Migrate(Box::new(MigrateError::Execute(e)))
                    }
                    classified => classified,
                }
            }
            MigrateError::VersionMismatch(version) => StoreError::MigrationChanged {
                path: path.to_path_buf(),
                version,
            },
            other => StoreError::Migrate(Box::new(other)),
        }
    }

    pub(crate) fn from_io(path: &Path, source: io::Error) -> StoreError {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                StoreError::ReadOnly {
                    path,
                    detail: source.to_string(),
                }
            }
            io::ErrorKind::StorageFull => StoreError::DiskFull { path },
            _ => StoreError::Io { path, source },
        }
    }
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => path,
    }
}

// Primary result codes from sqlite3.h; the values are part of SQLite's stable ABI.
const SQLITE_PERM: i32 = 3;
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_READONLY: i32 = 8;
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;
const SQLITE_NOTADB: i32 = 26;

/// Attaches the database path to sqlx errors.
pub(crate) trait SqlxResultExt<T> {
    fn at(self, path: &Path) -> Result<T>;
}

impl<T> SqlxResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|e| StoreError::from_sqlx(path, e))
    }
}
