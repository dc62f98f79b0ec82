-- Why step speculation was switched off partway through an answer (the
-- slowdown guard, or a draft that failed), so a review of the speed-up can
-- show it. NULL: it ran to the end, or the mode had none. guard_stopped
-- says which of the two it was without reading the message.
ALTER TABLE answer_metrics ADD COLUMN speculation_stopped TEXT;
ALTER TABLE answer_metrics ADD COLUMN guard_stopped INTEGER NOT NULL DEFAULT 0
    CHECK (guard_stopped IN (0, 1));
