-- Released schema v1. Never edit a released migration: sqlx checks their
-- checksums, and tests/data/schema_v1.sql is a frozen copy. Add a new file.

-- Timestamps are UTC text, 'YYYY-MM-DDTHH:MM:SS.mmmZ', so that text order is
-- time order and substr(ts, 1, 10) is the UTC day.

CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY,
    title       TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    pinned      INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    deleted_at  TEXT
);

CREATE INDEX conversations_by_activity ON conversations (pinned DESC, updated_at DESC, id DESC);

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role             TEXT    NOT NULL CHECK (role IN ('user', 'assistant')),
    text             TEXT    NOT NULL DEFAULT '',
    final_answer     TEXT,
    mode             TEXT    CHECK (mode IN ('plain', 'sd', 'lr', 'sd+lr')),
    draft_model      TEXT,
    target_model     TEXT,
    judge_model      TEXT,
    settings         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    status           TEXT    NOT NULL
                     CHECK (status IN ('in_progress', 'complete', 'cancelled', 'failed', 'interrupted')),
    error            TEXT,
    created_at       TEXT    NOT NULL,
    finished_at      TEXT
);

CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
-- Open scans this at every start to find answers a crash left behind.
CREATE INDEX messages_in_progress ON messages (status) WHERE status = 'in_progress';

CREATE TABLE steps (
    message_id    INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    step_index    INTEGER NOT NULL CHECK (step_index >= 0),
    drafted_text  TEXT,
    target_text   TEXT,
    verdict       TEXT    NOT NULL CHECK (verdict IN ('accepted', 'rejected', 'target_only')),
    judge_score   REAL,
    kept_text     TEXT    NOT NULL,
    kept_from     TEXT    NOT NULL CHECK (kept_from IN ('draft', 'target')),
    draft_ms      REAL,
    target_ms     REAL,
    judge_ms      REAL,
    PRIMARY KEY (message_id, step_index)
) WITHOUT ROWID;

CREATE TABLE answer_metrics (
    message_id               INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    -- Copied from the message when the metrics are written (none of these
    -- change afterwards) so that statistics read this table alone instead
    -- of every message's full text.
    conversation_id          INTEGER NOT NULL,
    created_at               TEXT    NOT NULL,
    mode                     TEXT,
    draft_model              TEXT,
    target_model             TEXT,
    judge_model              TEXT,
    gamma                    NUMERIC,
    prompt_tokens            INTEGER NOT NULL,
    generated_tokens         INTEGER NOT NULL,
    wall_seconds             REAL    NOT NULL,
    prefill_tokens_per_s     REAL,
    decode_tokens_per_s      REAL,
    time_to_first_token_s    REAL,
    drafted_tokens           INTEGER,
    accepted_tokens          INTEGER,
    token_acceptance_rate    REAL,
    mean_acceptance_length   REAL,
    drafted_steps            INTEGER,
    accepted_steps           INTEGER,
    step_acceptance_rate     REAL,
    -- JSON array of {"attempted": n, "accepted": k}, index = draft position.
    per_position_acceptance  TEXT CHECK (per_position_acceptance IS NULL OR json_valid(per_position_acceptance)),
    speedup_estimate         REAL
);

CREATE INDEX answer_metrics_by_created ON answer_metrics (created_at);

-- answer_metrics.per_position_acceptance, one row per position, written in
-- the same transaction. Pooling thousands of answers from these rows is
-- several times faster than unpacking the JSON of each.
CREATE TABLE answer_positions (
    message_id  INTEGER NOT NULL REFERENCES answer_metrics (message_id) ON DELETE CASCADE,
    position    INTEGER NOT NULL CHECK (position >= 0),
    attempted   INTEGER NOT NULL,
    accepted    INTEGER NOT NULL,
    PRIMARY KEY (message_id, position)
) WITHOUT ROWID;

CREATE TABLE installed_models (
    id            INTEGER PRIMARY KEY,
    path          TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('draft', 'target', 'judge')),
    size_bytes    INTEGER NOT NULL,
    sha256        TEXT,
    installed_at  TEXT    NOT NULL,
    UNIQUE (path, role)
);

CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL CHECK (json_valid(value)),
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;

-- Full-text search. External-content tables hold only the index; the
-- triggers below keep it in step with every insert, edit and delete
-- (including cascaded deletes).
CREATE VIRTUAL TABLE conversations_fts USING fts5(
    title,
    content = 'conversations', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, final_answer,
    content = 'messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO conversations_fts (rowid, title) VALUES (new.id, new.title);
END;

CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO conversations_fts (conversations_fts, rowid, title)
    VALUES ('delete', old.id, old.title);
END;

CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
    INSERT INTO conversations_fts (conversations_fts, rowid, title)
    VALUES ('delete', old.id, old.title);
    INSERT INTO conversations_fts (rowid, title) VALUES (new.id, new.title);
END;

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text, final_answer)
    VALUES (new.id, new.text, new.final_answer);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, final_answer)
    VALUES ('delete', old.id, old.text, old.final_answer);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, final_answer ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, final_answer)
    VALUES ('delete', old.id, old.text, old.final_answer);
    INSERT INTO messages_fts (rowid, text, final_answer)
    VALUES (new.id, new.text, new.final_answer);
END;
