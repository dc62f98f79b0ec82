-- The answer's figures as the engine measures them, all of them, so the
-- history shows what the answer showed: the speed a person felt
-- (tokens_per_s), drafted steps kept per look-ahead window (before this,
-- mean_acceptance_length held either the token or the step figure), and the
-- forward passes with the mean number of sequences each carried. NULL / 0
-- for answers stored before. From now on per_position_acceptance's JSON
-- spells the first count "proposed" (older rows say "attempted"; both read).
-- The installed_models table was never used (the models folder keeps its own
-- record) and goes.
ALTER TABLE answer_metrics ADD COLUMN tokens_per_s REAL;
ALTER TABLE answer_metrics ADD COLUMN step_mean_acceptance_length REAL;
ALTER TABLE answer_metrics ADD COLUMN forward_passes INTEGER NOT NULL DEFAULT 0
    CHECK (forward_passes >= 0);
ALTER TABLE answer_metrics ADD COLUMN mean_batch_size REAL NOT NULL DEFAULT 0;
DROP TABLE installed_models;
