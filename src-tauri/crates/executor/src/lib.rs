//! The batched executor: our own forward pass over GGUF models (llama and
//! qwen2 families) for ragged batches, with forkable key/value caches.
//!
//! Why it exists: mistral.rs 0.8.1 exposes no forward pass or cache, runs
//! sequences of different lengths one group at a time, and its speculative
//! pipeline deadlocks. Lookahead Reasoning needs the target's γ+1 branches
//! (each a different prefix length) to cost about one pass, and token-level
//! speculation needs a multi-token verification pass and cache rollback.
//!
//! The whole API:
//! - [`Executor`] (`load`, `forward`, `new_sequence`, `cached_sequence`,
//!   `remember`, `tokenizer`, `config`, cache accounting) with
//!   [`ExecutorOptions`];
//! - a pass: [`BatchItem`]s (a [`KvSequence`], its new tokens, the
//!   [`LogitsWanted`]) in, one [`Logits`] per item out;
//! - [`KvSequence`] (`fork`, `truncate`, `tokens`), [`KvLayout`],
//!   [`common_prefix`];
//! - [`GgufTokenizer`] and [`StreamDecoder`], [`ModelConfig`], [`Architecture`];
//! - choosing tokens: [`Sampling`], [`argmax`], [`pick`], [`Distribution`],
//!   [`Rng`];
//! - [`ExecutorError`];
//! - [`kernels_in_use`] (which CPU kernels run: for benchmark tables);
//! - for benchmarks only: [`quant`] (the weight formats and one multiply).
//!
//! Inside, bottom up: `format` (GGUF block layouts and activation
//! encodings), `kernels` (AVX2 dot products; VNNI and 512-bit forms where
//! the CPU has them), `quant` (the batched
//! multiply), `kv` (cache blocks, sequences, prefix cache), `forward` (the
//! transformer pass), `tokenizer` (GGUF → `tokenizers`), `sampling`.
//!
//! ```no_run
//! use lookahead_executor::{BatchItem, Executor, ExecutorOptions, LogitsWanted};
//! # fn main() -> lookahead_executor::Result<()> {
//! let exec = Executor::load("SmolLM2-135M-Instruct.Q4_1.gguf", ExecutorOptions::default())?;
//! let prompt = exec.tokenizer().encode("The capital of France is")?;
//! let mut a = exec.new_sequence();
//! let mut b = exec.new_sequence();
//! // Two sequences of different lengths in one pass.
//! let logits = exec.forward(&mut [
//!     BatchItem { seq: &mut a, tokens: &prompt, logits: LogitsWanted::Last },
//!     BatchItem { seq: &mut b, tokens: &prompt[..3], logits: LogitsWanted::All },
//! ])?;
//! assert_eq!(logits[1].rows(), 3);
//! # Ok(()) }
//! ```

mod error;
mod format;
mod forward;
mod gguf;
mod kernels;
mod kv;
mod pass_cost;
pub mod quant;
mod sampling;
mod simd;
mod tokenizer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use pass_cost::PassTimes;

pub use error::{ExecutorError, Result};
pub use gguf::{Architecture, ModelConfig};
pub use kernels::kernels_in_use;
pub use kv::{common_prefix, KvLayout, KvPool, KvSequence};
pub use pass_cost::prior_cost;
pub use sampling::{argmax, pick, Distribution, Rng, Sampling};
pub use tokenizer::{GgufTokenizer, StreamDecoder};

use forward::{PassItem, Scratch};
use gguf::ModelWeights;
use kv::PrefixCache;

/// How an [`Executor`] uses the machine.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    /// Worker threads; `None` = physical cores (hyper-threads only compete
    /// for the same load/store and SIMD units).
    pub threads: Option<usize>,
    /// Memory for key/value caches, live sequences and the prefix cache
    /// together.
    pub kv_budget_bytes: usize,
    /// Most tokens one forward pass holds; longer batches run as several
    /// passes (bounds activation memory; results are identical).
    pub max_tokens_per_pass: usize,
    /// Finished sequences kept for prefix reuse.
    pub prefix_cache_entries: usize,
    /// Tokens per cache block: the unit of sharing and of copy-on-write.
    pub block_tokens: usize,
    /// A shortlist head: compute logits only for the first `n` token ids
    /// (byte-pair vocabularies number tokens in the order their merges were
    /// learnt, so the low ids are the frequent ones) and the end-of-text
    /// tokens; every other token reads −∞. For a draft model, whose guesses
    /// the main model checks: it cuts the output matrix, the largest single
    /// read of a small model's step (as FR-Spec does). `None`: every token.
    pub head_tokens: Option<usize>,
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        Self {
            threads: None,
            kv_budget_bytes: 2 << 30,
            max_tokens_per_pass: 256,
            prefix_cache_entries: 64,
            block_tokens: 16,
            head_tokens: None,
        }
    }
}

/// Which positions of a [`BatchItem`] need logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogitsWanted {
    /// None (prefill only).
    None,
    /// The last new token (decoding).
    Last,
    /// Every new token (verifying drafted tokens).
    All,
    /// The last `n` new tokens.
    Tail(usize),
}

impl LogitsWanted {
    fn rows(self, new_tokens: usize) -> usize {
        match self {
            Self::None => 0,
            Self::Last => new_tokens.min(1),
            Self::All => new_tokens,
            Self::Tail(n) => n.min(new_tokens),
        }
    }
}

/// One sequence's part of a forward pass: append `tokens` to `seq`.
pub struct BatchItem<'a> {
    pub seq: &'a mut KvSequence,
    pub tokens: &'a [u32],
    pub logits: LogitsWanted,
}

/// Logits rows of one [`BatchItem`], in token order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logits {
    vocab: usize,
    data: Vec<f32>,
}

impl Logits {
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.vocab).unwrap_or(0)
    }
    pub fn vocab(&self) -> usize {
        self.vocab
    }
    /// Row `i` (0 = the first position that has logits).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.vocab..(i + 1) * self.vocab]
    }
    pub fn last(&self) -> Option<&[f32]> {
        self.rows().checked_sub(1).map(|i| self.row(i))
    }
}

/// The token ids of a shortlist head: `0..n`, the end tokens, then the
/// ids after `n` until the count is a multiple of 16 (the multiply's
/// fastest layouts take rows eight at a time, its 512-bit kernels sixteen).
fn shortlist(n: usize, end_ids: &[u32], vocab: usize) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..n as u32).collect();
    ids.extend(
        end_ids
            .iter()
            .filter(|&&id| id as usize >= n && (id as usize) < vocab),
    );
    let mut next = n as u32;
    while !ids.len().is_multiple_of(16) && (next as usize) < vocab {
        if !ids.contains(&next) {
            ids.push(next);
        }
        next += 1;
    }
    ids
}

/// A loaded model that runs ragged batches. Share it with `Arc`: passes
/// take `&self` and run one at a time.
pub struct Executor {
    name: String,
    path: PathBuf,
    config: ModelConfig,
    weights: ModelWeights,
    tokenizer: GgufTokenizer,
    inv_freq: Vec<f32>,
    threads: usize,
    pool: rayon::ThreadPool,
    kv: Arc<KvPool>,
    prefix: Mutex<PrefixCache>,
    scratch: Mutex<Scratch>,
    /// How long one-sequence passes took, by token count.
    pass_times: Mutex<PassTimes>,
    options: ExecutorOptions,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish()
    }
}

/// Chooses how the 512-bit kernels group rows for small passes
/// ([`quant::choose_pairing`]) on the first loaded model whose output
/// matrix poses the question, timed on the worker threads that will run
/// it. The output matrix because it is read from memory as every pass's
/// weights are (a layer's matrix fits in cache when timed alone, and there
/// pairs were as fast as single groups: the wrong answer). A Q6_K output
/// matrix in the 16-row layout (the 1.5B target's) does not pose it; the
/// 0.5B helper's output matrix (in groups of eight) does, as does the
/// target's where [`choose_layout_once`] put it in groups of eight.
fn choose_pairing_once(pool: &rayon::ThreadPool, weights: &gguf::ModelWeights) {
    static CHOSEN: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    if CHOSEN.get().is_some() {
        return;
    }
    if let Some(from) = pool.install(|| quant::choose_pairing(weights.output())) {
        let _ = CHOSEN.set(from);
    }
}

/// Chooses between the 16-row layout and groups of eight for Q4_K and Q6_K
/// ([`quant::choose_layout`]) on the first loaded model whose output matrix
/// is in the 16-row layout, timed on the worker threads that will run it,
/// and puts this model's matrices in groups of eight where those were
/// faster (as every later model's). Benchmarks that time both layouts
/// switch it off ([`quant::measure_paired_layout`]).
fn choose_layout_once(pool: &rayon::ThreadPool, weights: &mut gguf::ModelWeights) {
    static MEASURING: Mutex<()> = Mutex::new(());
    if !kernels::layout_measurement_allowed() {
        return;
    }
    {
        let _one_at_a_time = lock(&MEASURING);
        if kernels::sixteen_rows_faster().is_none() {
            if let Some(faster) = pool.install(|| quant::choose_layout(weights.output())) {
                kernels::record_layout_measurement(faster);
            }
        }
    }
    if kernels::sixteen_rows_faster() == Some(false) {
        weights.unpair();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another pass leaves only scratch space or cache entries
    // behind, both safe to reuse.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Executor {
    /// Loads a llama or qwen2 GGUF. Unsupported architectures, tensor
    /// types and tokenizers give [`ExecutorError::Unsupported`] (fall back to
    /// mistral.rs); damaged files [`ExecutorError::ModelCorrupt`].
    pub fn load(path: impl AsRef<Path>, options: ExecutorOptions) -> Result<Self> {
        let path = path.as_ref();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let mut loaded = gguf::load(path)?;
        let tokenizer = GgufTokenizer::from_metadata(&loaded.metadata, &name)?;
        let head = options
            .head_tokens
            .filter(|&n| n < loaded.config.vocab)
            .map(|n| shortlist(n, tokenizer.end_ids(), loaded.config.vocab));
        loaded.weights.prepare_output(head)?;
        let threads = options
            .threads
            .unwrap_or_else(num_cpus::get_physical)
            .max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("executor-{i}"))
            .build()
            .map_err(|e| ExecutorError::Load(format!("worker threads: {e}")))?;
        choose_layout_once(&pool, &mut loaded.weights);
        choose_pairing_once(&pool, &loaded.weights);
        let layout = KvLayout {
            layers: loaded.config.layers,
            kv_dim: loaded.config.kv_dim(),
            block_tokens: options.block_tokens.max(1),
        };
        Ok(Self {
            name,
            path: path.to_path_buf(),
            inv_freq: forward::rope_inv_freq(&loaded.config),
            config: loaded.config,
            weights: loaded.weights,
            tokenizer,
            threads,
            pool,
            kv: KvPool::new(layout, options.kv_budget_bytes),
            prefix: Mutex::new(PrefixCache::new(options.prefix_cache_entries)),
            scratch: Mutex::new(Scratch::default()),
            pass_times: Mutex::new(PassTimes::default()),
            options,
        })
    }

    /// File name of the model.
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }
    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.tokenizer
    }
    pub fn threads(&self) -> usize {
        self.threads
    }
    pub fn options(&self) -> &ExecutorOptions {
        &self.options
    }

    /// Bytes of weights one decode step reads (all matrices but the
    /// embedding table): with memory bandwidth, the decode speed ceiling.
    pub fn weight_bytes_per_token(&self) -> usize {
        self.weights.bytes_per_token()
    }

    /// What a pass of one sequence and `tokens` tokens costs against a
    /// pass of one token, as timed in this model's passes so far ([`prior_cost`]
    /// until both lengths were timed often enough; never below 1).
    pub fn pass_cost(&self, tokens: usize) -> f64 {
        lock(&self.pass_times).relative(tokens)
    }

    /// The most tokens a sequence may hold: the model's context, or what
    /// the cache budget holds if that is less.
    pub fn context_limit(&self) -> usize {
        let by_budget = self.kv.budget_bytes() / self.kv.layout().bytes_per_token().max(1);
        self.config.context_length.min(by_budget)
    }

    /// An empty cache.
    pub fn new_sequence(&self) -> KvSequence {
        KvSequence::new(&self.kv)
    }

    /// A cache for `tokens` holding the longest prefix a finished sequence
    /// left in the prefix cache (all but the last token at most, whose
    /// logits the caller needs); empty when nothing matches.
    pub fn cached_sequence(&self, tokens: &[u32]) -> KvSequence {
        lock(&self.prefix).lookup(&self.kv, tokens)
    }

    /// Offers a sequence's cache for reuse by later requests.
    pub fn remember(&self, seq: &KvSequence) {
        if Arc::ptr_eq(seq.pool(), &self.kv) {
            lock(&self.prefix).insert(seq);
        }
    }

    pub fn clear_prefix_cache(&self) {
        lock(&self.prefix).clear();
    }

    pub fn prefix_cache_entries(&self) -> usize {
        lock(&self.prefix).len()
    }

    /// Bytes held by key/value caches (live sequences and prefix cache).
    pub fn kv_bytes_in_use(&self) -> usize {
        self.kv.bytes_in_use()
    }
    pub fn kv_budget_bytes(&self) -> usize {
        self.kv.budget_bytes()
    }
    pub fn kv_layout(&self) -> KvLayout {
        self.kv.layout()
    }

    /// Whether `extra_tokens` more cached tokens (in fresh blocks) fit the
    /// budget after evicting what the prefix cache may give up.
    pub fn kv_fits(&self, extra_tokens: usize) -> bool {
        let blocks = extra_tokens.div_ceil(self.kv.layout().block_tokens);
        kv::fits(&self.kv, blocks)
    }

    /// Runs one ragged batch: appends each item's tokens to its sequence
    /// and returns the logits asked for, item by item. Batches longer than
    /// [`ExecutorOptions::max_tokens_per_pass`] run as several passes.
    /// On error the sequences are left as they were.
    pub fn forward(&self, batch: &mut [BatchItem<'_>]) -> Result<Vec<Logits>> {
        let vocab = self.config.vocab;
        for item in batch.iter() {
            if !Arc::ptr_eq(item.seq.pool(), &self.kv) {
                return Err(ExecutorError::Generation(
                    "a sequence from another model was passed to forward".into(),
                ));
            }
            if item.seq.len() + item.tokens.len() > self.config.context_length {
                return Err(ExecutorError::PromptTooLong {
                    tokens: item.seq.len() + item.tokens.len(),
                    limit: self.config.context_length,
                });
            }
        }
        self.reserve(batch)?;
        let original: Vec<usize> = batch.iter().map(|i| i.seq.len()).collect();
        let started = std::time::Instant::now();
        let result = self.forward_reserved(batch, vocab);
        if let ([item], Ok(_)) = (&*batch, &result) {
            lock(&self.pass_times).record(item.tokens.len(), started.elapsed().as_secs_f64());
        }
        if result.is_err() {
            for (item, len) in batch.iter_mut().zip(original) {
                item.seq.truncate(len);
            }
        }
        result
    }

    /// Takes cache blocks for the whole batch up front, evicting prefix
    /// cache entries (oldest first) when the budget is short.
    fn reserve(&self, batch: &mut [BatchItem<'_>]) -> Result<()> {
        loop {
            let mut wants: Vec<(&mut KvSequence, usize)> = batch
                .iter_mut()
                .map(|i| (&mut *i.seq, i.tokens.len()))
                .collect();
            let needed: usize = wants.iter().map(|(s, n)| s.blocks_needed(*n)).sum();
            if kv::fits(&self.kv, needed) || !lock(&self.prefix).evict_oldest() {
                return kv::reserve_all(&self.kv, &mut wants);
            }
        }
    }

    fn forward_reserved(&self, batch: &mut [BatchItem<'_>], vocab: usize) -> Result<Vec<Logits>> {
        let mut out: Vec<Logits> = batch
            .iter()
            .map(|_| Logits {
                vocab,
                data: Vec::new(),
            })
            .collect();
        let mut done: Vec<usize> = vec![0; batch.len()];
        let max_pass = self.options.max_tokens_per_pass.max(1);
        let mut guard = lock(&self.scratch);
        let scratch: &mut Scratch = &mut guard;
        loop {
            // Fill a pass with the next tokens of each item, in order.
            let mut room = max_pass;
            let mut pass_items = Vec::new();
            let mut pass_index = Vec::new();
            for (i, item) in batch.iter_mut().enumerate() {
                let left = item.tokens.len() - done[i];
                if left == 0 || room == 0 {
                    continue;
                }
                let take = left.min(room);
                room -= take;
                let all_tokens = item.tokens;
                let chunk = &all_tokens[done[i]..done[i] + take];
                let wanted = item.logits.rows(item.tokens.len());
                // Logits rows are the item's last `wanted` tokens; this chunk
                // covers positions done..done+take of the new tokens.
                let first_wanted = item.tokens.len() - wanted;
                let chunk_end = done[i] + take;
                let logit_rows = chunk_end.saturating_sub(first_wanted.max(done[i]));
                pass_items.push(PassItem {
                    seq: &mut *item.seq,
                    tokens: chunk,
                    logit_rows,
                });
                pass_index.push(i);
            }
            if pass_items.is_empty() {
                break;
            }
            let logits = self.pool.install(|| {
                forward::forward_pass(
                    &self.weights,
                    &self.config,
                    &self.inv_freq,
                    scratch,
                    &mut pass_items,
                    self.threads,
                )
            })?;
            let mut lens = Vec::with_capacity(pass_items.len());
            for pi in pass_items.iter_mut() {
                pi.seq.push_tokens(pi.tokens);
                lens.push(pi.tokens.len());
            }
            drop(pass_items);
            for ((&i, take), rows) in pass_index.iter().zip(lens).zip(logits) {
                done[i] += take;
                out[i].data.extend_from_slice(&rows);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::shortlist;

    #[test]
    fn a_shortlist_keeps_the_end_tokens_and_fills_to_sixteen() {
        // Qwen2.5: 151936 rows, <|im_end|> 151645, <|endoftext|> 151643.
        let ids = shortlist(32_765, &[151_645, 151_643, 7], 151_936);
        assert_eq!(ids.len(), 32_768);
        assert_eq!(&ids[..32_765], (0..32_765).collect::<Vec<u32>>().as_slice());
        assert_eq!(&ids[32_765..], &[151_645, 151_643, 32_765]);
        // Already a multiple of sixteen: nothing added.
        assert_eq!(shortlist(16, &[3], 100), (0..16).collect::<Vec<u32>>());
        // 24 + one end token: filled up to 32 with the ids after 24.
        let ids = shortlist(24, &[50], 100);
        assert_eq!(ids.len(), 32);
        assert_eq!(&ids[24..], &[50, 24, 25, 26, 27, 28, 29, 30]);
    }
}
