//! The round loop behind [`super::run_lookahead`] and
//! [`super::run_plain_steps`].

use std::time::Instant;

use super::control::{GammaController, SlowdownGuard};
use super::{LookaheadEnd, LookaheadOutcome, LookaheadSettings, LookaheadStats, SchedulerEvent};
use crate::answer::{KeptFrom, Stage, StepRecord, Verdict};
use crate::arith;
use crate::cancel::CancelFlag;
use crate::error::{EngineError, Result};
use crate::generate::{Context, Piece, Sampling, StepEnd, StepGenerator, StepOutput, StepRequest};
use crate::judge::Judge;
use crate::prompt::{strip_end_marker, END_MARKERS};

/// The draft model and the judge; absent for plain decoding.
pub(crate) struct Speculation<'a> {
    pub(crate) draft: &'a mut dyn StepGenerator,
    pub(crate) judge: &'a mut dyn Judge,
}

/// A model's step after the scheduler has read it.
#[derive(Clone, Debug)]
struct Step {
    /// The step's text with the ids the model wrote it in (plain text when
    /// the scheduler changed it), for the next request to carry.
    piece: Piece,
    tokens: usize,
    end: StepEnd,
    /// Decode time the backend reported (for the plain-speed estimate).
    decode_seconds: f64,
}

impl Step {
    fn read(output: StepOutput, max_tokens: usize, delimiter: &str) -> Self {
        let (piece, marker_found) = match strip_end_marker(&output.text) {
            (kept, true) => (Piece::new(kept), true),
            (_, false) => (output.piece(), false),
        };
        let text = piece.text();
        // A backend that reports an end marker as text has ended the answer,
        // whatever it says the end was.
        let end = if marker_found {
            StepEnd::EndOfSequence
        } else {
            match output.end {
                Some(end) => end,
                None if text.ends_with(delimiter) => StepEnd::Delimiter,
                None if output.tokens >= max_tokens => StepEnd::Budget,
                None => StepEnd::EndOfSequence,
            }
        };
        // A model that produced nothing has nothing more to say; going on
        // would ask it the same question forever.
        let end = if output.tokens == 0 && text.is_empty() && end != StepEnd::Cancelled {
            StepEnd::EndOfSequence
        } else {
            end
        };
        Self {
            piece,
            tokens: output.tokens,
            end,
            decode_seconds: output.decode_time.as_secs_f64(),
        }
    }

    fn text(&self) -> &str {
        self.piece.text()
    }

    fn ends_answer(&self) -> bool {
        self.end == StepEnd::EndOfSequence
    }

    fn finished(&self) -> bool {
        self.end == StepEnd::Delimiter
    }
}

/// How much of `written` can be shown: all of it up to an end marker, less
/// a tail that could be the start of one.
fn shown_len(written: &str) -> usize {
    if let (kept, true) = strip_end_marker(written) {
        return kept.len();
    }
    let held = END_MARKERS
        .iter()
        .flat_map(|m| (1..m.len()).map(move |k| &m[..k]))
        .filter(|start| written.ends_with(start))
        .map(str::len)
        .max()
        .unwrap_or(0);
    written.len() - held
}

/// A step chosen in a round, waiting to be appended.
struct Kept {
    record: StepRecord,
    /// `record.text` as the model wrote it.
    piece: Piece,
    tokens: usize,
    ends_answer: bool,
}

pub(crate) struct Scheduler<'a> {
    target: &'a mut dyn StepGenerator,
    speculation: Option<Speculation<'a>>,
    settings: &'a LookaheadSettings,
    sampling: &'a Sampling,
    cancel: &'a CancelFlag,
    on_event: &'a mut dyn FnMut(SchedulerEvent),
    answer: String,
    /// The prompt and the kept steps as pieces: what every request
    /// continues.
    context: Context,
    steps: Vec<StepRecord>,
    stats: LookaheadStats,
    fallback: Option<String>,
    gamma: GammaController,
    guard: SlowdownGuard,
    /// Most answer tokens: the answer budget, or what the context leaves.
    token_room: usize,
    /// The same for the draft, whose context may be shorter.
    draft_token_room: usize,
    /// Text of the step in progress already sent token by token (plain
    /// steps stream; speculative rounds send settled steps only).
    streamed: String,
    /// The last kept step was cut at a corrected result: the next one
    /// finishes it and joins its record.
    finishing_corrected_step: bool,
    /// What the target will write after the last kept step, already
    /// checked by word drafting ([`StepOutput::ahead`]): the next plain
    /// step's hint, so those words are not guessed again.
    ahead: Option<Piece>,
}

impl<'a> Scheduler<'a> {
    pub(crate) fn new(
        target: &'a mut dyn StepGenerator,
        speculation: Option<Speculation<'a>>,
        prompt: Context,
        settings: &'a LookaheadSettings,
        sampling: &'a Sampling,
        cancel: &'a CancelFlag,
        on_event: &'a mut dyn FnMut(SchedulerEvent),
    ) -> Self {
        Self {
            target,
            speculation,
            settings,
            sampling,
            cancel,
            on_event,
            answer: String::new(),
            context: prompt,
            steps: Vec::new(),
            stats: LookaheadStats::default(),
            fallback: None,
            gamma: GammaController::new(settings.gamma, settings.adaptive_gamma)
                .starting_at(settings.first_round_gamma),
            guard: SlowdownGuard::new(
                settings.slowdown_guard,
                settings.plain_tokens_per_s_estimate,
                settings.guard_patience,
            ),
            token_room: 0,
            draft_token_room: 0,
            streamed: String::new(),
            finishing_corrected_step: false,
            ahead: None,
        }
    }

    pub(crate) fn run(mut self) -> Result<LookaheadOutcome> {
        let started = Instant::now();
        let prompt_tokens = self.target.count_tokens(&self.context)?;
        self.token_room = self
            .settings
            .max_answer_tokens
            .min(self.target.context_limit().saturating_sub(prompt_tokens));
        if let Some(speculation) = &self.speculation {
            // The draft shares the target's tokenizer, so the prompt's token
            // count carries over.
            self.draft_token_room = self.token_room.min(
                speculation
                    .draft
                    .context_limit()
                    .saturating_sub(prompt_tokens),
            );
        }

        let ended = loop {
            if self.cancel.is_cancelled() {
                break LookaheadEnd::Cancelled;
            }
            if self.stats.answer_tokens >= self.token_room {
                break LookaheadEnd::TokenBudget;
            }
            let first_step = self.answer.is_empty() && self.settings.first_step_by_target;
            let next = if self.speculating() && self.at_step_boundary() && !first_step {
                self.round()?
            } else {
                self.plain_step()?
            };
            if let Some(end) = next {
                break end;
            }
        };

        self.stats.wall_seconds = started.elapsed().as_secs_f64();
        Ok(LookaheadOutcome {
            text: self.answer,
            steps: self.steps,
            ended,
            stats: self.stats,
            fallback: self.fallback,
        })
    }

    fn speculating(&self) -> bool {
        self.speculation.is_some() && self.fallback.is_none() && self.settings.gamma > 0
    }

    /// A drafted step can only be accepted where a step starts.
    fn at_step_boundary(&self) -> bool {
        self.answer.is_empty() || self.answer.ends_with(self.settings.delimiter.as_str())
    }

    /// Tokens the next step may use after `ahead` tokens of drafted text.
    fn step_max_tokens(&self, room: usize, ahead: usize) -> usize {
        room.saturating_sub(self.stats.answer_tokens + ahead)
            .min(self.settings.step_token_budget)
    }

    fn switch_off(&mut self, reason: String) {
        tracing::warn!(%reason, "step speculation switched off for the rest of the answer");
        if self.fallback.is_none() {
            self.fallback = Some(reason);
        }
    }

    /// Appends a settled step and tells the caller. Every sum in the step
    /// is checked; with the calculator in the loop, a step with a wrong
    /// result is cut just after that result, the exact value is put in its
    /// place, and `true` is returned: the target then finishes the step
    /// from the corrected text (whatever followed the wrong value is
    /// dropped, since it was written from it).
    fn keep(&mut self, kept: Kept) -> bool {
        let streamed = std::mem::take(&mut self.streamed);
        let mut record = kept.record;
        let mut piece = kept.piece;
        let mut tokens = kept.tokens;
        let mut cut = false;
        let checked = arith::find(&record.text);
        let first_wrong = checked.iter().position(|f| !f.check.correct);
        let mut checks: Vec<_> = checked.iter().map(|f| f.check.clone()).collect();
        if let (true, Some(at)) = (self.settings.correct_arithmetic, first_wrong) {
            let wrong = &checked[at];
            let full_len = record.text.len().max(1);
            let mut text = record.text[..wrong.result_range.start].to_string();
            text.push_str(&wrong.check.exact);
            // Where the right value begins the wrong one ("9" of "96"), what
            // followed the written result, to its first space or line end,
            // goes with it, so the number is finished: from "= 9" alone the
            // model writes the "6" it had in mind. Elsewhere the model goes
            // on from the value itself, as it would have written it.
            let after = &record.text[wrong.result_range.end..];
            let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
            let boundary = after
                .char_indices()
                .find(|(_, c)| c.is_whitespace())
                .map(|(i, c)| &after[..i + c.len_utf8()])
                .filter(|b| b.len() <= 8 && !b.contains(|c: char| c.is_ascii_digit()))
                .filter(|_| digits(&wrong.check.written).starts_with(&digits(&wrong.check.exact)))
                .unwrap_or("");
            text.push_str(boundary);
            // Tokens of the part kept, in proportion (a close estimate;
            // the budget only needs to be roughly right).
            tokens = (tokens * (wrong.result_range.end + boundary.len()))
                .div_ceil(full_len)
                .min(tokens);
            checks.truncate(at + 1);
            checks[at].corrected = true;
            piece = Piece::new(text.clone());
            record.text = text;
            cut = true;
            self.stats.corrections += 1;
        }
        record.arithmetic = checks;
        self.stats.answer_tokens += tokens;
        if record.kept_from == KeptFrom::Draft {
            self.stats.drafted_tokens_kept += tokens;
        }
        if record.text.is_empty() {
            return cut;
        }
        let continues = std::mem::replace(&mut self.finishing_corrected_step, cut);
        // Send only what the reader has not seen yet (after a correction,
        // what differs from what was shown).
        let common = common_prefix_len(&record.text, &streamed);
        if common < streamed.len() {
            tracing::debug!("a settled step differs from its streamed text; sending the rest");
        }
        let unsent = &record.text[common..];
        if !unsent.is_empty() {
            (self.on_event)(SchedulerEvent::Text(unsent.to_string()));
        }
        self.answer.push_str(&record.text);
        self.context.push(piece);
        match self.steps.last_mut() {
            // The rest of a corrected step joins it: one step, as written.
            Some(last) if continues => {
                last.text.push_str(&record.text);
                if let Some(target) = last.target.as_mut() {
                    target.push_str(record.target.as_deref().unwrap_or(&record.text));
                }
                last.target_ms =
                    Some(last.target_ms.unwrap_or(0.0) + record.target_ms.unwrap_or(0.0));
                last.arithmetic.extend(record.arithmetic);
                let last = last.clone();
                (self.on_event)(SchedulerEvent::Step(last));
            }
            _ => {
                record.index = self.steps.len();
                (self.on_event)(SchedulerEvent::Step(record.clone()));
                self.steps.push(record);
            }
        }
        cut
    }

    /// One step by the target alone.
    fn plain_step(&mut self) -> Result<Option<LookaheadEnd>> {
        if !self.finishing_corrected_step {
            (self.on_event)(SchedulerEvent::Stage(Stage::Writing {
                step: self.steps.len(),
            }));
        }
        let max_tokens = self.step_max_tokens(self.token_room, 0);
        let request = StepRequest {
            context: self.context.clone(),
            max_tokens,
            stop_at_delimiter: true,
            hint: self.ahead.take(),
        };
        let started = Instant::now();
        // Tokens go out as they come, so a plain answer reads as it is
        // written; a tail that may be the start of an end marker waits.
        let mut written = String::new();
        let streamed = &mut self.streamed;
        let on_event = &mut self.on_event;
        let outputs = self.target.continue_steps(
            std::slice::from_ref(&request),
            self.sampling,
            self.cancel,
            &mut |_, piece| {
                written.push_str(piece);
                let safe = &written[..shown_len(&written)];
                if let Some(new) = safe.strip_prefix(streamed.as_str()) {
                    if !new.is_empty() {
                        on_event(SchedulerEvent::Text(new.to_string()));
                        streamed.push_str(new);
                    }
                }
            },
        )?;
        let seconds = started.elapsed().as_secs_f64();
        self.stats.target_seconds += seconds;
        LookaheadStats::count_at(&mut self.stats.target_batch_sizes, 1);
        let output = outputs.into_iter().next().ok_or_else(|| {
            EngineError::Generation("the target model returned no step".to_string())
        })?;
        let ahead = output.ahead_hint();
        let step = Step::read(output, max_tokens, &self.settings.delimiter);
        if step.end == StepEnd::Cancelled {
            // Keep what was written (and shown) before the stop.
            self.keep(Kept {
                record: StepRecord::target_only(0, step.text().to_string(), seconds * 1000.0),
                piece: step.piece,
                tokens: step.tokens,
                ends_answer: false,
            });
            return Ok(Some(LookaheadEnd::Cancelled));
        }
        self.guard
            .observe_target_step(step.tokens, step.decode_seconds);
        self.stats.target_only_steps += 1;
        let ends_answer = step.ends_answer();
        let corrected = self.keep(Kept {
            record: StepRecord::target_only(0, step.text().to_string(), seconds * 1000.0),
            piece: step.piece,
            tokens: step.tokens,
            ends_answer,
        });
        // Checked words past the step's end hold only for its text as
        // written (a correction changed it).
        self.ahead = ahead.filter(|_| !corrected && !ends_answer);
        Ok((ends_answer && !corrected).then_some(LookaheadEnd::EndOfSequence))
    }

    fn round(&mut self) -> Result<Option<LookaheadEnd>> {
        let Some(mut speculation) = self.speculation.take() else {
            return self.plain_step();
        };
        let result = self.speculative_round(&mut speculation);
        self.speculation = Some(speculation);
        result
    }

    /// One Lookahead round; see the module documentation.
    fn speculative_round(
        &mut self,
        speculation: &mut Speculation<'_>,
    ) -> Result<Option<LookaheadEnd>> {
        let round_started = Instant::now();
        // A round's steps are settled by the judge: checked words past the
        // last plain step need not follow them.
        self.ahead = None;
        let gamma = self.gamma.current();
        let base = self.context.clone();
        let delimiter = self.settings.delimiter.clone();
        (self.on_event)(SchedulerEvent::Stage(Stage::Drafting {
            step: self.steps.len(),
            ahead: gamma,
        }));

        // 1. The draft writes ahead, one step per call: each needs the last.
        let mut drafts: Vec<(Step, f64)> = Vec::new();
        let mut drafted = base.clone();
        let mut drafted_tokens = 0;
        for _ in 0..gamma {
            if self.cancel.is_cancelled() {
                return Ok(Some(LookaheadEnd::Cancelled));
            }
            let max_tokens = self.step_max_tokens(self.draft_token_room, drafted_tokens);
            if max_tokens == 0 {
                break;
            }
            let request = StepRequest {
                context: drafted.clone(),
                max_tokens,
                stop_at_delimiter: true,
                hint: None,
            };
            let started = Instant::now();
            let result = speculation.draft.continue_steps(
                std::slice::from_ref(&request),
                self.sampling,
                self.cancel,
                &mut |_, _| {},
            );
            let seconds = started.elapsed().as_secs_f64();
            self.stats.draft_seconds += seconds;
            let output = match result.and_then(first_output) {
                Ok(output) => output,
                Err(error) => {
                    self.switch_off(format!("the draft model failed: {error}"));
                    return Ok(None);
                }
            };
            let step = Step::read(output, max_tokens, &delimiter);
            if step.end == StepEnd::Cancelled {
                return Ok(Some(LookaheadEnd::Cancelled));
            }
            let finished = step.finished();
            drafted.push(step.piece.clone());
            drafted_tokens += step.tokens;
            drafts.push((step, seconds * 1000.0));
            // Later drafts would follow text that does not end a step.
            if !finished {
                break;
            }
        }
        if drafts.is_empty() {
            return self.plain_step();
        }

        // 2. The target writes every branch whose drafted prefix exists, in
        //    one call so a batching backend runs them together.
        let mut requests = Vec::with_capacity(drafts.len() + 1);
        let mut prefix = base;
        let mut prefix_tokens = 0;
        for j in 0..=drafts.len() {
            if j > 0 {
                match drafts.get(j - 1) {
                    Some((previous, _)) if previous.finished() => {
                        prefix.push(previous.piece.clone());
                        prefix_tokens += previous.tokens;
                    }
                    _ => break,
                }
            }
            let max_tokens = self.step_max_tokens(self.token_room, prefix_tokens);
            if max_tokens == 0 {
                break;
            }
            requests.push(StepRequest {
                context: prefix.clone(),
                max_tokens,
                stop_at_delimiter: true,
                // The helper's version of the step this branch writes.
                hint: drafts.get(j).map(|(drafted, _)| drafted.piece.clone()),
            });
        }
        if self.cancel.is_cancelled() {
            return Ok(Some(LookaheadEnd::Cancelled));
        }
        (self.on_event)(SchedulerEvent::Stage(Stage::Checking {
            step: self.steps.len(),
            drafted: drafts.len(),
        }));
        let started = Instant::now();
        let result =
            self.target
                .continue_steps(&requests, self.sampling, self.cancel, &mut |_, _| {});
        let target_seconds = started.elapsed().as_secs_f64();
        let target_ms = target_seconds * 1000.0;
        self.stats.target_seconds += target_seconds;
        LookaheadStats::count_at(&mut self.stats.target_batch_sizes, requests.len());
        let outputs = match result {
            Ok(outputs) if outputs.len() == requests.len() => outputs,
            Ok(outputs) => {
                self.switch_off(format!(
                    "the target model returned {} steps for {} branches",
                    outputs.len(),
                    requests.len()
                ));
                return Ok(None);
            }
            Err(error) => {
                self.switch_off(format!("a target branch failed: {error}"));
                return Ok(None);
            }
        };
        let branches: Vec<Step> = outputs
            .into_iter()
            .zip(&requests)
            .map(|(output, request)| Step::read(output, request.max_tokens, &delimiter))
            .collect();
        if branches.iter().any(|b| b.end == StepEnd::Cancelled) {
            return Ok(Some(LookaheadEnd::Cancelled));
        }
        if let Some(first) = branches.first() {
            self.guard
                .observe_target_step(first.tokens, first.decode_seconds);
        }

        // 3. Judge in order; the first rejection ends the round.
        let mut kept: Vec<Kept> = Vec::new();
        let mut accepted = 0;
        let mut judge_failure = None;
        let mut stopped_at = None;
        for (j, (draft, draft_ms)) in drafts.iter().enumerate() {
            let Some(branch) = branches.get(j) else {
                break;
            };
            let record = |verdict: Verdict,
                          score: Option<f64>,
                          kept_from: KeptFrom,
                          judge_ms: Option<f64>| StepRecord {
                arithmetic: Vec::new(),
                index: 0,
                drafted: Some(draft.text().to_string()),
                target: Some(branch.text().to_string()),
                verdict,
                judge_score: score,
                kept_from,
                text: match kept_from {
                    KeptFrom::Draft => draft.text().to_string(),
                    KeptFrom::Target => branch.text().to_string(),
                },
                draft_ms: Some(*draft_ms),
                target_ms: Some(target_ms),
                judge_ms,
            };
            // A draft cut by its budget is unfinished, and an empty target
            // step that ends the answer leaves nothing a draft could match.
            let unfinished = !(draft.finished() || draft.ends_answer());
            if unfinished || (branch.text().is_empty() && branch.ends_answer()) {
                if unfinished {
                    self.stats.unfinished_drafts += 1;
                }
                kept.push(Kept {
                    record: record(Verdict::Rejected, None, KeptFrom::Target, None),
                    piece: branch.piece.clone(),
                    tokens: branch.tokens,
                    ends_answer: branch.ends_answer(),
                });
                stopped_at = Some(j);
                break;
            }
            if self.cancel.is_cancelled() {
                return Ok(Some(LookaheadEnd::Cancelled));
            }
            match speculation.judge.judge(branch.text(), draft.text()) {
                Err(error) => {
                    // The target's own step is always safe to keep.
                    kept.push(Kept {
                        record: record(Verdict::TargetOnly, None, KeptFrom::Target, None),
                        piece: branch.piece.clone(),
                        tokens: branch.tokens,
                        ends_answer: branch.ends_answer(),
                    });
                    judge_failure = Some(error);
                    stopped_at = Some(j);
                    break;
                }
                Ok(verdict) => {
                    self.stats.judged_steps += 1;
                    self.stats.judge_seconds += verdict.latency.as_secs_f64();
                    let judge_ms = Some(verdict.latency.as_secs_f64() * 1000.0);
                    if verdict.accepted {
                        accepted += 1;
                        kept.push(Kept {
                            record: record(
                                Verdict::Accepted,
                                verdict.score,
                                KeptFrom::Draft,
                                judge_ms,
                            ),
                            // The same words: the main model's own tokens
                            // for them, as plain decoding would have read.
                            piece: if branch.text() == draft.text() {
                                branch.piece.clone()
                            } else {
                                draft.piece.clone()
                            },
                            tokens: draft.tokens,
                            ends_answer: draft.ends_answer(),
                        });
                        if draft.ends_answer() {
                            stopped_at = Some(j);
                            break;
                        }
                    } else {
                        kept.push(Kept {
                            record: record(
                                Verdict::Rejected,
                                verdict.score,
                                KeptFrom::Target,
                                judge_ms,
                            ),
                            piece: branch.piece.clone(),
                            tokens: branch.tokens,
                            ends_answer: branch.ends_answer(),
                        });
                        stopped_at = Some(j);
                        break;
                    }
                }
            }
        }
        // Every draft accepted: the target's next step comes for free.
        if stopped_at.is_none() {
            if let Some(bonus) = branches.get(drafts.len()) {
                self.stats.bonus_steps += 1;
                kept.push(Kept {
                    record: StepRecord::target_only(0, bonus.text().to_string(), target_ms),
                    piece: bonus.piece.clone(),
                    tokens: bonus.tokens,
                    ends_answer: bonus.ends_answer(),
                });
            }
        }

        // 4. Settle and learn from the round.
        self.stats.rounds += 1;
        self.stats.drafted_steps += drafts.len();
        self.stats.accepted_steps += accepted;
        for j in 0..drafts.len() {
            LookaheadStats::count_at(&mut self.stats.proposed_per_position, j);
        }
        for j in 0..accepted {
            LookaheadStats::count_at(&mut self.stats.accepted_per_position, j);
        }
        LookaheadStats::count_at(&mut self.stats.accepted_per_round, accepted);
        self.stats.gamma_per_round.push(gamma);

        let tokens_before = self.stats.answer_tokens;
        let mut ended = false;
        for step in kept {
            let ends_answer = step.ends_answer;
            if self.keep(step) {
                // Corrected: the later kept steps were written from the
                // wrong value, so they go; the target finishes this one.
                break;
            }
            ended |= ends_answer;
            if ended {
                break;
            }
        }
        tracing::debug!(
            gamma,
            drafted = drafts.len(),
            accepted,
            branches = requests.len(),
            "lookahead round"
        );
        if ended {
            return Ok(Some(LookaheadEnd::EndOfSequence));
        }
        if let Some(error) = judge_failure {
            self.switch_off(format!("the judge failed: {error}"));
            return Ok(None);
        }
        self.gamma.after_round(gamma, drafts.len(), accepted);
        let round_tokens = self.stats.answer_tokens - tokens_before;
        if let Some(reason) = self
            .guard
            .after_round(round_tokens, round_started.elapsed().as_secs_f64())
        {
            self.stats.guard_stopped = true;
            self.switch_off(reason);
        }
        Ok(None)
    }
}

/// Byte length of the longest common prefix of `a` and `b` (on a
/// character boundary).
fn common_prefix_len(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i)
}

fn first_output(outputs: Vec<StepOutput>) -> Result<StepOutput> {
    outputs
        .into_iter()
        .next()
        .ok_or_else(|| EngineError::Generation("the model returned no step".to_string()))
}

#[cfg(test)]
mod tests {
    use super::shown_len;

    #[test]
    fn streaming_holds_back_what_may_be_an_end_marker() {
        assert_eq!(shown_len("The sum is 5."), 13);
        // "<|im" could become "<|im_end|>": wait for the next piece.
        assert_eq!(shown_len("The sum is 5.<|im"), 13);
        assert_eq!(shown_len("The sum is 5.<|im_end|> more"), 13);
        // A "<" that cannot start a marker any more goes out.
        assert_eq!(shown_len("a <b"), 4);
    }
}
