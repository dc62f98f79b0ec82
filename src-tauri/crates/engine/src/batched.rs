//! [`ExecutorGenerator`]: the step interface on the batched executor, plus
//! the per-request bookkeeping the speculative generator shares.
//!
//! All requests of one call decode together: every forward pass holds one
//! slot per unfinished request (its uncached prompt suffix on the first
//! pass, one token afterwards), so γ+1 Lookahead branches cost one pass per
//! token, not γ+1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cancel::CancelFlag;
use crate::error::{EngineError, Result};
use crate::generate::{
    Context, GeneratorStats, Sampling, StepEnd, StepGenerator, StepOutput, StepRequest, TokenIds,
    TokenSink, STEP_DELIMITER,
};
use lookahead_executor::{
    common_prefix, BatchItem, Executor, KvSequence, LogitsWanted, Rng, StreamDecoder,
};

/// A request sharing a long prefix with a shorter request of the same call
/// waits one pass for that request's cache rather than recomputing the
/// prefix, when this many tokens or more are saved.
const MIN_SHARED_PREFIX: usize = 8;

/// One request while it is being continued.
pub(crate) struct StepState {
    pub index: usize,
    /// Prompt and generated tokens so far.
    pub tokens: Vec<u32>,
    /// Where the generated tokens start in `tokens`.
    pub start: usize,
    /// Cache of `tokens` minus the tail not yet run through the model.
    pub seq: KvSequence,
    /// Prompt tokens the first pass must run (after prefix reuse).
    pub prefill_tokens: usize,
    /// Waiting for request `source` to cache the first `shared` tokens.
    pub waiting_on: Option<(usize, usize)>,
    pub prefilled: bool,
    pub generated: usize,
    pub max_tokens: usize,
    pub stop_at_delimiter: bool,
    /// The request's hint as tokens (empty without one).
    pub hint: Vec<u32>,
    /// Checked tokens past the step's end ([`StepOutput::ahead`]).
    pub ahead: Vec<u32>,
    pub text: String,
    decoder: StreamDecoder,
    pub end: Option<StepEnd>,
    pub rng: Rng,
    pub prefill_time: Duration,
    pub decode_time: Duration,
}

impl StepState {
    pub fn is_running(&self) -> bool {
        self.end.is_none() && self.waiting_on.is_none()
    }

    /// New tokens this request may still produce.
    pub fn remaining(&self) -> usize {
        self.max_tokens.saturating_sub(self.generated)
    }

    /// Accepts the next token: end-of-sequence, delimiter and budget checks
    /// happen here, token by token, so every generator stops at the same
    /// place. Returns whether the request has ended.
    pub fn commit(
        &mut self,
        exec: &Executor,
        token: u32,
        on_token: &mut TokenSink<'_>,
    ) -> Result<bool> {
        let tok = exec.tokenizer();
        self.generated += 1;
        if tok.is_end(token) {
            self.end = Some(StepEnd::EndOfSequence);
            self.flush(exec, on_token)?;
            return Ok(true);
        }
        self.tokens.push(token);
        let piece = self.decoder.push(tok, token)?;
        if !piece.is_empty() {
            // One byte back catches a delimiter split across pieces; step
            // back further if that byte is inside a multi-byte character.
            let mut from = self.text.len().saturating_sub(1);
            while !self.text.is_char_boundary(from) {
                from -= 1;
            }
            self.text.push_str(&piece);
            on_token(self.index, &piece);
            if self.stop_at_delimiter && self.text[from..].contains(STEP_DELIMITER) {
                self.end = Some(StepEnd::Delimiter);
            }
        }
        if self.end.is_none() && self.generated >= self.max_tokens {
            self.end = Some(StepEnd::Budget);
        }
        if self.end.is_some() {
            self.flush(exec, on_token)?;
        }
        Ok(self.end.is_some())
    }

    fn flush(&mut self, exec: &Executor, on_token: &mut TokenSink<'_>) -> Result<()> {
        let rest = self.decoder.flush(exec.tokenizer())?;
        if !rest.is_empty() {
            self.text.push_str(&rest);
            on_token(self.index, &rest);
        }
        Ok(())
    }

    /// Charges a pass's wall time to this request.
    pub fn charge(&mut self, elapsed: Duration) {
        if self.prefilled {
            self.decode_time += elapsed;
        } else {
            self.prefill_time += elapsed;
        }
    }

    /// Ends the request: its cache goes to the prefix cache for the next
    /// call, trimmed to tokens that really belong to it.
    pub fn finish(mut self, exec: &Executor) -> StepOutput {
        let keep = common_prefix(self.seq.tokens(), &self.tokens);
        self.seq.truncate(keep);
        exec.remember(&self.seq);
        StepOutput {
            text: self.text,
            tokens: self.generated,
            end: self.end.or(Some(StepEnd::Cancelled)),
            prefill_tokens: self.prefill_tokens,
            prefill_time: self.prefill_time,
            decode_time: self.decode_time,
            ids: Some(TokenIds {
                vocab: exec.tokenizer().vocab_id(),
                ids: self.tokens.split_off(self.start.min(self.tokens.len())),
            }),
            ahead: (!self.ahead.is_empty()).then(|| TokenIds {
                vocab: exec.tokenizer().vocab_id(),
                ids: self.ahead,
            }),
        }
    }
}

/// The ids the executor reads for `context`: the tokenizer's lead (BOS)
/// and each piece's ids, encoding only pieces that have none in this
/// vocabulary yet (they keep them for the next call).
pub(crate) fn context_ids(exec: &Executor, context: &Context) -> Result<Vec<u32>> {
    let tok = exec.tokenizer();
    let vocab = tok.vocab_id();
    let mut ids = tok.lead().to_vec();
    for piece in context.pieces() {
        ids.extend_from_slice(&piece.ids_or_encode(vocab, |t| tok.encode_piece(t))?);
    }
    Ok(ids)
}

/// Runs `requests` in groups whose caches fit the budget together (a batch
/// too big for memory runs in parts instead of failing). `run` gets a
/// group's requests, their ids and the index of the group's first request;
/// the outputs come back in request order.
pub(crate) fn in_groups(
    exec: &Executor,
    requests: &[StepRequest],
    mut run: impl FnMut(&[StepRequest], Vec<Vec<u32>>, usize) -> Result<Vec<StepOutput>>,
) -> Result<Vec<StepOutput>> {
    let limit = exec.context_limit();
    let ids = requests
        .iter()
        .map(|req| {
            let ids = context_ids(exec, &req.context)?;
            if ids.is_empty() {
                return Err(EngineError::EmptyPrompt);
            }
            if ids.len() >= limit {
                return Err(EngineError::PromptTooLong {
                    tokens: ids.len(),
                    limit,
                });
            }
            Ok(ids)
        })
        .collect::<Result<Vec<_>>>()?;
    let groups = plan_groups(exec, requests, &ids);
    let mut ids = ids.into_iter();
    let mut outputs = Vec::with_capacity(requests.len());
    for group in groups {
        let group_ids: Vec<Vec<u32>> = ids.by_ref().take(group.len()).collect();
        outputs.extend(run(&requests[group.clone()], group_ids, group.start)?);
    }
    Ok(outputs)
}

/// Sets up the requests of one group (`ids` from [`in_groups`], the first
/// request being number `offset` of the call): finds cached prefixes and
/// plans prefix sharing inside the group. Hints are read only when
/// `with_hints` (token speculation proposes from them).
pub(crate) fn start_states(
    exec: &Executor,
    requests: &[StepRequest],
    ids: Vec<Vec<u32>>,
    sampling: &Sampling,
    offset: usize,
    with_hints: bool,
) -> Result<Vec<StepState>> {
    let limit = exec.context_limit();
    let tok = exec.tokenizer();
    let mut states = Vec::with_capacity(requests.len());
    for (i, (req, tokens)) in requests.iter().zip(ids).enumerate() {
        let seq = exec.cached_sequence(&tokens);
        let max_tokens = req.max_tokens.min(limit.saturating_sub(tokens.len()));
        let hint = match &req.hint {
            Some(hint) if with_hints => hint
                .ids_or_encode(tok.vocab_id(), |t| tok.encode_piece(t))?
                .into_owned(),
            _ => Vec::new(),
        };
        states.push(StepState {
            index: offset + i,
            prefill_tokens: tokens.len() - seq.len(),
            rng: Rng::for_prompt(sampling.seed, &tokens),
            start: tokens.len(),
            tokens,
            seq,
            waiting_on: None,
            prefilled: false,
            generated: 0,
            max_tokens,
            stop_at_delimiter: req.stop_at_delimiter,
            hint,
            ahead: Vec::new(),
            text: String::new(),
            decoder: StreamDecoder::default(),
            end: (max_tokens == 0).then_some(StepEnd::Budget),
            prefill_time: Duration::ZERO,
            decode_time: Duration::ZERO,
        });
    }
    // A request may wait for a shorter one (ordered by length, so there are
    // no cycles) that will cache a longer common prefix than the prefix
    // cache offers.
    let mut order: Vec<usize> = (0..states.len()).collect();
    order.sort_by_key(|&i| (states[i].tokens.len(), i));
    for (rank, &j) in order.iter().enumerate() {
        let cached = states[j].seq.len();
        let usable = states[j].tokens.len() - 1;
        let best = order[..rank]
            .iter()
            .map(|&i| {
                (
                    common_prefix(&states[i].tokens, &states[j].tokens).min(usable),
                    i,
                )
            })
            .max();
        if let Some((shared, source)) = best {
            if shared >= cached + MIN_SHARED_PREFIX && states[source].end.is_none() {
                states[j].waiting_on = Some((source, shared));
            }
        }
    }
    Ok(states)
}

/// Starts waiting requests whose source has cached the shared prefix.
/// Returns the indices that started (their caches are now forks).
pub(crate) fn admit_waiting(states: &mut [StepState]) -> Vec<usize> {
    let mut admitted = Vec::new();
    for j in 0..states.len() {
        let Some((source, shared)) = states[j].waiting_on else {
            continue;
        };
        let src = &states[source];
        if src.waiting_on.is_some() || src.seq.len() < shared && src.end.is_none() {
            continue;
        }
        let available = common_prefix(src.seq.tokens(), &states[j].tokens).min(shared);
        if available > states[j].seq.len() {
            let mut fork = src.seq.fork();
            fork.truncate(available);
            states[j].seq = fork;
        }
        let st = &mut states[j];
        st.prefill_tokens = st.tokens.len() - st.seq.len();
        st.waiting_on = None;
        admitted.push(j);
    }
    admitted
}

/// Splits requests into groups whose caches fit the budget together.
fn plan_groups(
    exec: &Executor,
    requests: &[StepRequest],
    ids: &[Vec<u32>],
) -> Vec<std::ops::Range<usize>> {
    let per_token = exec.kv_layout().bytes_per_token();
    let block = exec.kv_layout().block_bytes();
    let budget = exec.kv_budget_bytes();
    let mut groups = Vec::new();
    let mut start = 0;
    let mut used = 0usize;
    for (i, (req, prompt)) in requests.iter().zip(ids).enumerate() {
        let tokens = prompt.len().min(exec.context_limit()) + req.max_tokens;
        let need = tokens * per_token + 2 * block;
        if i > start && used + need > budget {
            groups.push(start..i);
            start = i;
            used = 0;
        }
        used += need;
    }
    if start < requests.len() {
        groups.push(start..requests.len());
    }
    groups
}

/// The plain generator on the executor.
pub struct ExecutorGenerator {
    exec: Arc<Executor>,
    stats: GeneratorStats,
}

impl ExecutorGenerator {
    pub fn new(exec: Arc<Executor>) -> Self {
        Self {
            exec,
            stats: GeneratorStats::default(),
        }
    }

    pub fn executor(&self) -> &Arc<Executor> {
        &self.exec
    }

    fn run_group(
        &mut self,
        requests: &[StepRequest],
        ids: Vec<Vec<u32>>,
        offset: usize,
        sampling: &Sampling,
        cancel: &CancelFlag,
        on_token: &mut TokenSink<'_>,
    ) -> Result<Vec<StepOutput>> {
        let exec = self.exec.clone();
        // Plain decoding has no use for hints.
        let mut states = start_states(&exec, requests, ids, sampling, offset, false)?;
        loop {
            if cancel.is_cancelled() {
                for s in states.iter_mut().filter(|s| s.end.is_none()) {
                    s.end = Some(StepEnd::Cancelled);
                }
                break;
            }
            admit_waiting(&mut states);
            let running: Vec<usize> = (0..states.len())
                .filter(|&i| states[i].is_running())
                .collect();
            if running.is_empty() {
                break;
            }
            let started = Instant::now();
            let logits = {
                let mut items: Vec<BatchItem<'_>> = states
                    .iter_mut()
                    .filter(|s| s.is_running())
                    .map(|s| {
                        let fed = s.seq.len();
                        BatchItem {
                            seq: &mut s.seq,
                            tokens: &s.tokens[fed..],
                            logits: LogitsWanted::Last,
                        }
                    })
                    .collect();
                exec.forward(&mut items)?
            };
            let elapsed = started.elapsed();
            let prefill_pass = running.iter().any(|&i| !states[i].prefilled);
            self.stats.forward_passes += 1;
            self.stats.batched_sequences += running.len();
            if prefill_pass {
                self.stats.prefill_seconds += elapsed.as_secs_f64();
            } else {
                self.stats.decode_seconds += elapsed.as_secs_f64();
            }
            for (&i, l) in running.iter().zip(&logits) {
                let s = &mut states[i];
                s.charge(elapsed);
                if !s.prefilled {
                    s.prefilled = true;
                    self.stats.prefill_tokens += s.prefill_tokens;
                }
                let row = l
                    .last()
                    .ok_or_else(|| EngineError::Generation("no logits returned".into()))?;
                let token = lookahead_executor::pick(row, sampling, &mut s.rng);
                s.commit(&exec, token, on_token)?;
                self.stats.generated_tokens += 1;
            }
        }
        Ok(states.into_iter().map(|s| s.finish(&exec)).collect())
    }
}

impl StepGenerator for ExecutorGenerator {
    fn name(&self) -> &str {
        self.exec.name()
    }

    fn count_tokens(&self, context: &Context) -> Result<usize> {
        Ok(context_ids(&self.exec, context)?.len())
    }

    fn context_limit(&self) -> usize {
        self.exec.context_limit()
    }

    fn continue_steps(
        &mut self,
        requests: &[StepRequest],
        sampling: &Sampling,
        cancel: &CancelFlag,
        mut on_token: TokenSink<'_>,
    ) -> Result<Vec<StepOutput>> {
        let exec = self.exec.clone();
        in_groups(&exec, requests, |group, ids, offset| {
            self.run_group(group, ids, offset, sampling, cancel, &mut on_token)
        })
    }

    fn take_stats(&mut self) -> GeneratorStats {
        std::mem::take(&mut self.stats)
    }
}
