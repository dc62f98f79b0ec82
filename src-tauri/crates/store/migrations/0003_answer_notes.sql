-- What a reader should know about an answer besides its text: it was cut
-- off at the length limit, or earlier turns of the conversation were left
-- out of the prompt to fit. And per step, the sums the model wrote, worked
-- out again: a JSON array of {"expression", "written", "exact", "correct",
-- "corrected"}; NULL when the step has none.
ALTER TABLE messages ADD COLUMN cut_off INTEGER NOT NULL DEFAULT 0 CHECK (cut_off IN (0, 1));
ALTER TABLE messages ADD COLUMN turns_left_out INTEGER NOT NULL DEFAULT 0
    CHECK (turns_left_out >= 0);
ALTER TABLE steps ADD COLUMN arithmetic TEXT
    CHECK (arithmetic IS NULL OR json_valid(arithmetic));
