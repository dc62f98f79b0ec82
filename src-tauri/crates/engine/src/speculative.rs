//! Token-level speculative decoding on the batched executor.
//!
//! Each round, a proposer guesses k tokens per request (a draft model,
//! n-gram lookup in the text so far, or lookup with the draft model where
//! lookup finds nothing; with lookup, the exact result first where the text
//! ends with a sum waiting for it, and the next number where it ends an
//! item of a numbered list); the target runs every request's
//! pending token plus its guesses in ONE ragged forward pass, keeps the
//! longest agreeing run plus one token of its own (the correction, or a
//! bonus when all guesses held) and rolls both caches back past what was
//! rejected. Several requests (the Lookahead branches) speculate in the
//! same passes. Where a step ends inside a run of kept guesses, the words
//! checked past its end go back with it ([`StepOutput::ahead`]) for the
//! next step to propose first.
//!
//! Greedy: a guess is kept iff it is the target's argmax, so the output is
//! exactly plain greedy decoding (the executor computes a token's logits
//! identically whatever else shares the pass). Sampled: the standard
//! rejection rule (accept with probability min(1, p/q), else draw from
//! normalise(max(0, p − q))) keeps the target's distribution; an n-gram
//! guess is a point mass (q = 1).

pub mod ngram;
mod numbering;
mod sums;

use std::sync::Arc;
use std::time::Instant;

pub use ngram::{Followers, NgramConfig};

use crate::batched::{admit_waiting, context_ids, in_groups, start_states, StepState};
use crate::cancel::CancelFlag;
use crate::error::{EngineError, Result};
use crate::generate::{
    Context, GeneratorStats, Sampling, StepEnd, StepGenerator, StepOutput, StepRequest, TokenSink,
};
use lookahead_executor::{
    argmax, common_prefix, BatchItem, Distribution, Executor, KvSequence, LogitsWanted, Rng,
};

/// Where guesses come from.
#[derive(Clone)]
pub enum Proposer {
    /// A smaller model with the same tokenizer.
    Draft(Arc<Executor>),
    /// Lookup of the last tokens in the text so far.
    Ngram(NgramConfig),
    /// Lookup first; where the text offers nothing, the smaller model
    /// guesses (it catches up on the words lookup supplied in one pass).
    Both(NgramConfig, Arc<Executor>),
}

impl std::fmt::Debug for Proposer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Draft(d) => write!(f, "Draft({})", d.name()),
            Self::Ngram(c) => write!(f, "Ngram({c:?})"),
            Self::Both(c, d) => write!(f, "Both({c:?}, {})", d.name()),
        }
    }
}

/// How many tokens to guess per round. k follows each request's running
/// acceptance rate α: about the expected run of accepted tokens,
/// α / (1 − α), plus one, within `min_k..=max_k`.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeculationConfig {
    pub min_k: usize,
    pub max_k: usize,
    pub initial_k: usize,
    /// Weight of the latest round in the running acceptance rate.
    pub smoothing: f64,
    /// Where a step ends inside a run of kept guesses, hand the checked
    /// words past its end to the next step ([`StepOutput::ahead`]; greedy
    /// only). Off only to measure what it saves.
    pub carry_ahead: bool,
}

impl Default for SpeculationConfig {
    fn default() -> Self {
        Self {
            min_k: 2,
            max_k: 8,
            initial_k: 4,
            smoothing: 0.3,
            carry_ahead: true,
        }
    }
}

impl SpeculationConfig {
    fn next_k(&self, acceptance: f64) -> usize {
        let a = acceptance.clamp(0.0, 0.95);
        let run = (a / (1.0 - a)).ceil() as usize + 1;
        run.clamp(self.min_k, self.max_k.max(self.min_k))
    }
}

/// How many tokens one kind of guess proposes next, from its running
/// acceptance rate.
struct GuessLength {
    k: usize,
    acceptance: f64,
}

impl GuessLength {
    fn new(config: &SpeculationConfig) -> Self {
        Self {
            k: config.initial_k,
            acceptance: 0.5,
        }
    }

    /// Folds in a round where `rate` of the judged guesses were accepted.
    fn update(&mut self, config: &SpeculationConfig, rate: f64) {
        self.acceptance = (1.0 - config.smoothing) * self.acceptance + config.smoothing * rate;
        self.k = config.next_k(self.acceptance);
    }
}

/// Per-request speculation state beside [`StepState`]: a guess length per
/// kind of guess (lookup guesses hold less often than a model's).
struct Speculation {
    lookup: GuessLength,
    model: GuessLength,
    draft_seq: Option<KvSequence>,
    /// What followed what in this request's text so far (lookup).
    followers: Followers,
}

/// One request's guesses for a round.
#[derive(Default)]
struct Guesses {
    tokens: Vec<u32>,
    /// The draft's distributions (sampling with a draft model only).
    dists: Vec<Distribution>,
    /// Made by the draft model (else by lookup).
    by_draft: bool,
    /// The exact result of the sum the text ends with (the calculator's
    /// guess, before lookup's).
    by_sum: bool,
}

/// A [`StepGenerator`] that decodes with token-level speculation.
pub struct SpeculativeGenerator {
    target: Arc<Executor>,
    proposer: Proposer,
    /// What followed what in earlier answers (n-gram only).
    earlier: Followers,
    config: SpeculationConfig,
    stats: GeneratorStats,
    name: String,
}

impl SpeculativeGenerator {
    /// Draft-model speculation. The two models must share a tokenizer.
    pub fn with_draft(
        target: Arc<Executor>,
        draft: Arc<Executor>,
        config: SpeculationConfig,
    ) -> Result<Self> {
        if let Some(detail) = target.tokenizer().incompatibility(draft.tokenizer()) {
            return Err(EngineError::TokenizerMismatch {
                draft: draft.name().to_string(),
                target: target.name().to_string(),
                detail,
            });
        }
        let name = format!("{} + draft {}", target.name(), draft.name());
        Ok(Self {
            target,
            proposer: Proposer::Draft(draft),
            earlier: Followers::default(),
            config,
            stats: GeneratorStats::default(),
            name,
        })
    }

    /// Lookup first, the draft model where lookup finds nothing. The two
    /// models must share a tokenizer.
    pub fn with_ngram_and_draft(
        target: Arc<Executor>,
        ngram: NgramConfig,
        draft: Arc<Executor>,
        config: SpeculationConfig,
    ) -> Result<Self> {
        let mut this = Self::with_draft(target, draft.clone(), config)?;
        this.name = format!("{} + n-gram + draft {}", this.target.name(), draft.name());
        this.proposer = Proposer::Both(ngram, draft);
        Ok(this)
    }

    /// Prompt-lookup speculation (no second model).
    pub fn with_ngram(
        target: Arc<Executor>,
        ngram: NgramConfig,
        config: SpeculationConfig,
    ) -> Self {
        let name = format!("{} + n-gram", target.name());
        Self {
            target,
            proposer: Proposer::Ngram(ngram),
            earlier: Followers::default(),
            config,
            stats: GeneratorStats::default(),
            name,
        }
    }

    /// Earlier answers the n-gram proposer also counts (each sighting at a
    /// small part of the weight of one in the text so far).
    pub fn with_earlier_answers(mut self, answers: &[String]) -> Result<Self> {
        let tok = self.target.tokenizer();
        let texts: Vec<Vec<u32>> = answers
            .iter()
            .map(|a| tok.encode_piece(a))
            .collect::<lookahead_executor::Result<_>>()?;
        self.earlier = Followers::of_texts(&self.ngram_config(), &texts);
        Ok(self)
    }

    fn ngram_config(&self) -> NgramConfig {
        match &self.proposer {
            Proposer::Ngram(n) | Proposer::Both(n, _) => n.clone(),
            Proposer::Draft(_) => NgramConfig::default(),
        }
    }

    pub fn target(&self) -> &Arc<Executor> {
        &self.target
    }
    pub fn proposer(&self) -> &Proposer {
        &self.proposer
    }

    fn draft(&self) -> Option<&Arc<Executor>> {
        match &self.proposer {
            Proposer::Draft(d) | Proposer::Both(_, d) => Some(d),
            Proposer::Ngram(_) => None,
        }
    }

    /// Guesses for every running request, at most `budgets[i]` each.
    fn propose(
        &mut self,
        states: &mut [StepState],
        specs: &mut [Speculation],
        budgets: &[usize],
        sampling: &Sampling,
    ) -> Result<Vec<Guesses>> {
        let mut out: Vec<Guesses> = budgets.iter().map(|_| Guesses::default()).collect();
        let (ngram, draft) = match &self.proposer {
            Proposer::Ngram(n) => (Some(n), None),
            Proposer::Draft(d) => (None, Some(d.clone())),
            Proposer::Both(n, d) => (Some(n), Some(d.clone())),
        };
        if let Some(ngram) = ngram {
            for (i, s) in states.iter().enumerate() {
                let k = specs[i].lookup.k.min(budgets[i]);
                if k > 0 {
                    let generated = &s.tokens[s.tokens.len() - s.generated..];
                    let longest = self.config.max_k.min(budgets[i]);
                    // The last token's text, read once a round by the
                    // guesses below that start from words.
                    let tokenizer = self.target.tokenizer();
                    let last = tokenizer
                        .decode(&s.tokens[s.tokens.len().saturating_sub(1)..])
                        .unwrap_or_default();
                    // A sum waiting for its result: the calculator's
                    // result first (neither a hint nor lookup knows it).
                    if let Some(result) = ngram
                        .sum_results
                        .then(|| sums::propose_result(tokenizer, &s.tokens, &last, longest))
                        .flatten()
                    {
                        out[i].tokens = result;
                        out[i].by_sum = true;
                        continue;
                    }
                    // A hint is followed for the adaptive length; counted
                    // lookup guesses while its guess may hold, and goes on
                    // from where a hint's guess uses the hint up (words
                    // carried past the last step's end, a drafted step's
                    // last words) and from the next number of a list.
                    let followers = &mut specs[i].followers;
                    followers.sync(&s.tokens);
                    let then_lookup = |first| {
                        ngram.propose_after(followers, &self.earlier, &s.tokens, first, longest)
                    };
                    let mut guesses = match ngram::propose_from_hint(&s.hint, generated, k) {
                        Some(hinted) if s.hint.ends_with(&hinted) => then_lookup(hinted),
                        Some(hinted) => ngram::Scored::holding(hinted),
                        None => match ngram
                            .next_numbers
                            .then(|| numbering::propose_next(tokenizer, &s.tokens, &last))
                            .flatten()
                        {
                            Some(number) => then_lookup(number),
                            None => ngram.propose(followers, &self.earlier, &s.tokens, longest),
                        },
                    };
                    if let Some(end) = guesses.tokens.iter().position(|&t| tokenizer.is_end(t)) {
                        guesses.truncate(end + 1);
                    }
                    // As much of it as is worth a longer pass here.
                    let pending = s.tokens.len().saturating_sub(s.seq.len());
                    let keep =
                        ngram::worth_checking(&guesses, pending, |n| self.target.pass_cost(n));
                    guesses.truncate(keep);
                    out[i].tokens = guesses.tokens;
                }
            }
        }
        let Some(draft) = draft else {
            return Ok(out);
        };
        // The draft guesses for whoever lookup left without guesses.
        let ks: Vec<usize> = (0..budgets.len())
            .map(|i| {
                if out[i].tokens.is_empty() {
                    specs[i].model.k.min(budgets[i])
                } else {
                    0
                }
            })
            .collect();
        for (g, &k) in out.iter_mut().zip(&ks) {
            g.by_draft = k > 0;
        }
        let steps = ks.iter().copied().max().unwrap_or(0);
        let mut ended_early = vec![false; ks.len()];
        for step in 0..steps {
            let started = Instant::now();
            let mut members = Vec::new();
            let logits = {
                let mut items = Vec::new();
                for (i, (s, sp)) in states.iter().zip(specs.iter_mut()).enumerate() {
                    if ks[i] <= step || ended_early[i] {
                        continue;
                    }
                    let Some(dseq) = sp.draft_seq.as_mut() else {
                        continue;
                    };
                    let tokens: &[u32] = if step == 0 {
                        &s.tokens[dseq.len().min(s.tokens.len())..]
                    } else {
                        &out[i].tokens[step - 1..step]
                    };
                    if tokens.is_empty() {
                        continue;
                    }
                    members.push(i);
                    items.push(BatchItem {
                        seq: dseq,
                        tokens,
                        logits: LogitsWanted::Last,
                    });
                }
                if items.is_empty() {
                    break;
                }
                draft.forward(&mut items)?
            };
            self.stats.forward_passes += 1;
            self.stats.batched_sequences += members.len();
            self.stats.decode_seconds += started.elapsed().as_secs_f64();
            for (&i, l) in members.iter().zip(&logits) {
                // A request whose earlier step produced nothing stops here.
                if out[i].tokens.len() != step {
                    continue;
                }
                let row = l
                    .last()
                    .ok_or_else(|| EngineError::Generation("draft returned no logits".into()))?;
                let token = if sampling.is_greedy() {
                    argmax(row)
                } else {
                    let q = Distribution::from_logits(row, sampling);
                    let token = q.sample(&mut states[i].rng);
                    out[i].dists.push(q);
                    token
                };
                out[i].tokens.push(token);
                // Nothing follows an end of sequence: stop guessing there.
                if draft.tokenizer().is_end(token) {
                    ended_early[i] = true;
                }
            }
        }
        Ok(out)
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
        let target = self.target.clone();
        let draft = self.draft().cloned();
        // Hints are proposals for the n-gram proposer only.
        let with_hints = !matches!(self.proposer, Proposer::Draft(_));
        let mut states = start_states(&target, requests, ids, sampling, offset, with_hints)?;
        let mut specs: Vec<Speculation> = states
            .iter()
            .map(|s| Speculation {
                lookup: GuessLength::new(&self.config),
                model: GuessLength::new(&self.config),
                draft_seq: draft
                    .as_ref()
                    .filter(|_| s.waiting_on.is_none())
                    .map(|d| d.cached_sequence(&s.tokens)),
                followers: Followers::new(&self.ngram_config()),
            })
            .collect();
        let limit = match &draft {
            Some(d) => target.context_limit().min(d.context_limit()),
            None => target.context_limit(),
        };
        loop {
            if cancel.is_cancelled() {
                for s in states.iter_mut().filter(|s| s.end.is_none()) {
                    s.end = Some(StepEnd::Cancelled);
                }
                break;
            }
            for j in admit_waiting(&mut states) {
                if let Some(d) = &draft {
                    let tokens_j = &states[j].tokens;
                    let source = specs
                        .iter()
                        .filter_map(|sp| sp.draft_seq.as_ref())
                        .map(|q| (common_prefix(q.tokens(), tokens_j), q))
                        .max_by_key(|(n, _)| *n);
                    let cached = d.cached_sequence(&states[j].tokens);
                    specs[j].draft_seq = Some(match source {
                        Some((n, q)) if n.min(states[j].tokens.len() - 1) > cached.len() => {
                            let mut fork = q.fork();
                            fork.truncate(n.min(states[j].tokens.len() - 1));
                            fork
                        }
                        _ => cached,
                    });
                }
            }
            let running: Vec<usize> = (0..states.len())
                .filter(|&i| states[i].is_running())
                .collect();
            if running.is_empty() {
                break;
            }
            // Guess budget: never past the step budget (the round adds one
            // token of the target's own) or the context.
            let budgets: Vec<usize> = (0..states.len())
                .map(|i| {
                    let s = &states[i];
                    if !s.is_running() {
                        return 0;
                    }
                    let room = limit.saturating_sub(s.tokens.len() + 1);
                    s.remaining().saturating_sub(1).min(room)
                })
                .collect();
            let proposals = self.propose(&mut states, &mut specs, &budgets, sampling)?;

            // Verify every running request's pending tokens + guesses at once.
            let started = Instant::now();
            let feeds: Vec<Vec<u32>> = running
                .iter()
                .map(|&i| {
                    let s = &states[i];
                    let mut feed = s.tokens[s.seq.len()..].to_vec();
                    feed.extend_from_slice(&proposals[i].tokens);
                    feed
                })
                .collect();
            let logits = {
                let mut items: Vec<BatchItem<'_>> = states
                    .iter_mut()
                    .filter(|s| s.is_running())
                    .zip(&feeds)
                    .zip(&running)
                    .map(|((s, feed), &i)| BatchItem {
                        seq: &mut s.seq,
                        tokens: feed,
                        logits: LogitsWanted::Tail(proposals[i].tokens.len() + 1),
                    })
                    .collect();
                target.forward(&mut items)?
            };
            let elapsed = started.elapsed();
            self.stats.forward_passes += 1;
            self.stats.batched_sequences += running.len();
            if running.iter().any(|&i| !states[i].prefilled) {
                self.stats.prefill_seconds += elapsed.as_secs_f64();
            } else {
                self.stats.decode_seconds += elapsed.as_secs_f64();
            }

            for (&i, l) in running.iter().zip(&logits) {
                let Guesses {
                    tokens: guesses,
                    dists: q_dists,
                    by_draft,
                    by_sum,
                } = &proposals[i];
                let s = &mut states[i];
                s.charge(elapsed);
                if !s.prefilled {
                    s.prefilled = true;
                    self.stats.prefill_tokens += s.prefill_tokens;
                }
                let accepted = accept(&target, s, guesses, q_dists, l, sampling, on_token)?;
                if !self.config.carry_ahead {
                    s.ahead.clear();
                }
                self.stats.ahead_tokens += s.ahead.len();
                // Counters cover judged guesses: ones dropped because the
                // step ended first say nothing about the proposer.
                let n = accepted.judged;
                if !guesses.is_empty() {
                    self.stats.verification_rounds += 1;
                }
                if n > 0 {
                    self.stats.drafted_tokens += n;
                    self.stats.accepted_tokens += accepted.accepted;
                    grow(&mut self.stats.proposed_per_position, n);
                    grow(&mut self.stats.accepted_per_position, n);
                    for p in 0..n {
                        self.stats.proposed_per_position[p] += 1;
                    }
                    for p in 0..accepted.accepted {
                        self.stats.accepted_per_position[p] += 1;
                    }
                    let rate = accepted.accepted as f64 / n as f64;
                    if *by_sum {
                        // A sum's result says nothing about lookup's
                        // guesses or the draft's.
                        self.stats.sum_drafted_tokens += n;
                        self.stats.sum_accepted_tokens += accepted.accepted;
                    } else if *by_draft {
                        self.stats.model_drafted_tokens += n;
                        self.stats.model_accepted_tokens += accepted.accepted;
                        specs[i].model.update(&self.config, rate);
                    } else {
                        specs[i].lookup.update(&self.config, rate);
                    }
                }
                self.stats.generated_tokens += accepted.committed;
                // Roll back the guesses that did not survive.
                let keep = common_prefix(s.seq.tokens(), &s.tokens);
                s.seq.truncate(keep);
                if let Some(dseq) = specs[i].draft_seq.as_mut() {
                    let keep = common_prefix(dseq.tokens(), &s.tokens);
                    dseq.truncate(keep);
                }
            }
        }
        let mut outputs = Vec::with_capacity(states.len());
        for (s, sp) in states.into_iter().zip(specs) {
            if let (Some(d), Some(mut dseq)) = (&draft, sp.draft_seq) {
                let keep = common_prefix(dseq.tokens(), &s.tokens);
                dseq.truncate(keep);
                d.remember(&dseq);
            }
            outputs.push(s.finish(&target));
        }
        Ok(outputs)
    }
}

fn grow(v: &mut Vec<usize>, n: usize) {
    if v.len() < n {
        v.resize(n, 0);
    }
}

/// What one verification did for one request.
struct Verdict {
    /// Guesses the target ruled on: all of them, unless the request ended
    /// (end of sequence, delimiter, budget) inside an accepted run; guesses
    /// past that point are dropped unjudged.
    judged: usize,
    /// Guesses kept.
    accepted: usize,
    /// Tokens committed (kept guesses plus the target's own token, fewer
    /// when the request ended inside the run).
    committed: usize,
}

/// Walks the guesses against the target's logits rows (row p predicts the
/// token after pending + the first p guesses) and commits what survives.
fn accept(
    target: &Executor,
    s: &mut StepState,
    guesses: &[u32],
    q_dists: &[Distribution],
    logits: &lookahead_executor::Logits,
    sampling: &Sampling,
    on_token: &mut TokenSink<'_>,
) -> Result<Verdict> {
    let mut verdict = Verdict {
        judged: 0,
        accepted: 0,
        committed: 0,
    };
    if logits.rows() != guesses.len() + 1 {
        return Err(EngineError::Generation(format!(
            "verification returned {} logits rows for {} guesses",
            logits.rows(),
            guesses.len()
        )));
    }
    for p in 0..=guesses.len() {
        let row = logits.row(p);
        let Some(&guess) = guesses.get(p) else {
            // Every guess held: the last row gives a bonus token.
            let token = lookahead_executor::pick(row, sampling, &mut s.rng);
            verdict.committed += 1;
            s.commit(target, token, on_token)?;
            break;
        };
        let (keep, replacement) = if sampling.is_greedy() {
            let best = argmax(row);
            (best == guess, best)
        } else {
            let p_dist = Distribution::from_logits(row, sampling);
            judge_guess(&p_dist, q_dists.get(p), guess, &mut s.rng)
        };
        verdict.committed += 1;
        verdict.judged += 1;
        if keep {
            verdict.accepted += 1;
            if s.commit(target, guess, on_token)? {
                if s.end == Some(StepEnd::Delimiter) && sampling.is_greedy() {
                    s.ahead = checked_ahead(guesses, logits, p + 1);
                }
                break;
            }
        } else {
            s.commit(target, replacement, on_token)?;
            break;
        }
    }
    Ok(verdict)
}

/// A guess made in words from the text of the latest `read_back` tokens
/// (the calculator's result, a list's next number), as tokens; `None`
/// when `guess` has none to make.
fn guess_from_text(
    tokenizer: &lookahead_executor::GgufTokenizer,
    tokens: &[u32],
    read_back: usize,
    guess: impl FnOnce(&str) -> Option<String>,
) -> Option<Vec<u32>> {
    let from = tokens.len().saturating_sub(read_back);
    let text = tokenizer.decode(&tokens[from..]).ok()?;
    let tokens = tokenizer.encode_piece(&guess(&text)?).ok()?;
    (!tokens.is_empty()).then_some(tokens)
}

/// Where a step ended inside a run of kept guesses, the rows past its end
/// were computed for the guesses that followed: the ones the target agrees
/// with and then its own next token are what it will write next (greedy),
/// from row `from` on.
fn checked_ahead(guesses: &[u32], logits: &lookahead_executor::Logits, from: usize) -> Vec<u32> {
    let mut ahead = Vec::new();
    for p in from..=guesses.len() {
        let best = argmax(logits.row(p));
        ahead.push(best);
        if guesses.get(p) != Some(&best) {
            break;
        }
    }
    ahead
}

/// The speculative sampling rule for one guess drawn from `q` (a point mass
/// when `q` is `None`): keep it with probability min(1, p/q), else return a
/// draw from normalise(max(0, p − q)). The kept-or-replaced token is then
/// distributed exactly as `p`.
pub fn judge_guess(
    p: &Distribution,
    q: Option<&Distribution>,
    guess: u32,
    rng: &mut Rng,
) -> (bool, u32) {
    let q_guess = q.map_or(1.0, |q| q.prob(guess));
    let ratio = if q_guess > 0.0 {
        p.prob(guess) / q_guess
    } else {
        0.0
    };
    if (rng.next_f64() as f32) < ratio.min(1.0) {
        return (true, guess);
    }
    let token = match q {
        Some(q) => p.sample_residual(q, rng),
        None => p.sample_residual(&Distribution::point(p.len(), guess), rng),
    };
    (false, token)
}

impl StepGenerator for SpeculativeGenerator {
    fn name(&self) -> &str {
        &self.name
    }

    fn count_tokens(&self, context: &Context) -> Result<usize> {
        Ok(context_ids(&self.target, context)?.len())
    }

    fn context_limit(&self) -> usize {
        match self.draft() {
            Some(d) => self.target.context_limit().min(d.context_limit()),
            None => self.target.context_limit(),
        }
    }

    fn continue_steps(
        &mut self,
        requests: &[StepRequest],
        sampling: &Sampling,
        cancel: &CancelFlag,
        mut on_token: TokenSink<'_>,
    ) -> Result<Vec<StepOutput>> {
        let target = self.target.clone();
        in_groups(&target, requests, |group, ids, offset| {
            self.run_group(group, ids, offset, sampling, cancel, &mut on_token)
        })
    }

    fn take_stats(&mut self) -> GeneratorStats {
        std::mem::take(&mut self.stats)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Drawing guesses from q and applying the rule reproduces p.
    #[test]
    fn the_rejection_rule_keeps_the_target_distribution() {
        let sampling = Sampling {
            temperature: 1.0,
            top_p: 1.0,
            seed: 0,
        };
        let p = Distribution::from_logits(&[2.0, 1.0, 0.5, -1.0, 0.0], &sampling);
        let q = Distribution::from_logits(&[0.0, 2.0, 0.0, 1.0, -3.0], &sampling);
        let mut rng = Rng::new(42);
        let n = 200_000;
        for draft in [Some(&q), None] {
            let mut counts = [0usize; 5];
            for _ in 0..n {
                let guess = match draft {
                    Some(q) => q.sample(&mut rng),
                    None => 1, // an n-gram guess: always the same token
                };
                let (_, token) = judge_guess(&p, draft, guess, &mut rng);
                counts[token as usize] += 1;
            }
            for (id, &c) in counts.iter().enumerate() {
                let expected = p.prob(id as u32) as f64;
                let got = c as f64 / n as f64;
                assert!(
                    (got - expected).abs() < 0.005,
                    "token {id}: {got} vs {expected}"
                );
            }
        }
    }
}
