-- Why step speculation was switched off partway through an answer (the
-- slowdown guard, or a draft that failed), so a review of the speed-up can
-- show it. NULL: it ran to the end, or the mode had none.
ALTER TABLE answer_metrics ADD COLUMN speculation_stopped TEXT;
