//! Key/value caches: fixed-size blocks shared between sequences by
//! reference count, copied only when a sequence writes into a block another
//! sequence still reads (copy-on-write), plus a prefix cache keyed by token
//! ids.
//!
//! Forking a sequence (a Lookahead branch, a speculative guess) clones a
//! list of block handles, not the keys and values. Truncating (rolling back
//! rejected tokens) drops handles past the new end. Every block reports its
//! bytes to a shared [`KvPool`], so the memory in use is exact however
//! blocks are shared, and the pool enforces a budget.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::{ExecutorError, Result};

/// Geometry of one model's cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvLayout {
    pub layers: usize,
    /// Key (and value) floats per token per layer: kv heads × head dim.
    pub kv_dim: usize,
    /// Tokens per block.
    pub block_tokens: usize,
}

impl KvLayout {
    fn floats_per_block(&self) -> usize {
        self.layers * 2 * self.block_tokens * self.kv_dim
    }
    /// Bytes one block occupies.
    pub fn block_bytes(&self) -> usize {
        self.floats_per_block() * std::mem::size_of::<f32>()
    }
    /// Bytes of keys and values per token.
    pub fn bytes_per_token(&self) -> usize {
        self.layers * 2 * self.kv_dim * std::mem::size_of::<f32>()
    }
}

/// Accounts for every live block of one model and holds the budget.
#[derive(Debug)]
pub struct KvPool {
    layout: KvLayout,
    budget_bytes: usize,
    in_use: AtomicUsize,
}

impl KvPool {
    pub fn new(layout: KvLayout, budget_bytes: usize) -> Arc<Self> {
        Arc::new(Self {
            layout,
            budget_bytes,
            in_use: AtomicUsize::new(0),
        })
    }
    pub fn layout(&self) -> KvLayout {
        self.layout
    }
    pub fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }
    /// Bytes held by live blocks (shared blocks counted once).
    pub fn bytes_in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }
    fn fits(&self, extra_blocks: usize) -> bool {
        self.bytes_in_use() + extra_blocks * self.layout.block_bytes() <= self.budget_bytes
    }
}

/// Keys and values of `block_tokens` consecutive positions, all layers.
/// Layout: `[layer][key|value][slot][kv_dim]`.
struct KvBlock {
    pool: Arc<KvPool>,
    data: Vec<f32>,
}

impl KvBlock {
    fn new(pool: &Arc<KvPool>) -> Self {
        pool.in_use
            .fetch_add(pool.layout.block_bytes(), Ordering::Relaxed);
        Self {
            pool: pool.clone(),
            data: vec![0f32; pool.layout.floats_per_block()],
        }
    }
}

impl Clone for KvBlock {
    fn clone(&self) -> Self {
        self.pool
            .in_use
            .fetch_add(self.pool.layout.block_bytes(), Ordering::Relaxed);
        Self {
            pool: self.pool.clone(),
            data: self.data.clone(),
        }
    }
}

impl Drop for KvBlock {
    fn drop(&mut self) {
        self.pool
            .in_use
            .fetch_sub(self.pool.layout.block_bytes(), Ordering::Relaxed);
    }
}

/// The cache of one sequence: the tokens whose keys and values it holds,
/// in blocks that may be shared with other sequences.
#[derive(Clone)]
pub struct KvSequence {
    pool: Arc<KvPool>,
    tokens: Vec<u32>,
    blocks: Vec<Arc<KvBlock>>,
}

impl std::fmt::Debug for KvSequence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvSequence")
            .field("len", &self.tokens.len())
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

impl KvSequence {
    pub fn new(pool: &Arc<KvPool>) -> Self {
        Self {
            pool: pool.clone(),
            tokens: Vec::new(),
            blocks: Vec::new(),
        }
    }

    /// Tokens whose keys and values are cached.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
    /// The cached tokens, in order.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// A second sequence with the same cached prefix; no keys or values are
    /// copied until one of the two writes into a shared partial block.
    pub fn fork(&self) -> Self {
        self.clone()
    }

    /// Forgets everything after the first `len` tokens (rolls back).
    pub fn truncate(&mut self, len: usize) {
        if len >= self.tokens.len() {
            return;
        }
        self.tokens.truncate(len);
        self.blocks
            .truncate(len.div_ceil(self.pool.layout.block_tokens));
    }

    /// Bytes of blocks only this sequence holds (what dropping it frees).
    pub fn exclusive_bytes(&self) -> usize {
        self.blocks
            .iter()
            .filter(|b| Arc::strong_count(b) == 1)
            .count()
            * self.pool.layout.block_bytes()
    }

    /// New blocks a write of `new_tokens` more tokens would allocate,
    /// counting copies of shared blocks it would write into.
    pub(crate) fn blocks_needed(&self, new_tokens: usize) -> usize {
        if new_tokens == 0 {
            return 0;
        }
        let bt = self.pool.layout.block_tokens;
        let start = self.tokens.len();
        let end = start + new_tokens;
        let first_block = start / bt;
        let copies = (first_block..self.blocks.len().min(end.div_ceil(bt)))
            .filter(|&b| Arc::strong_count(&self.blocks[b]) > 1)
            .count();
        end.div_ceil(bt).saturating_sub(self.blocks.len()) + copies
    }

    /// Makes room for `new_tokens` tokens: allocates blocks and takes
    /// private copies of shared blocks that will be written, so the forward
    /// pass can write without further checks.
    pub(crate) fn reserve(&mut self, new_tokens: usize) {
        let bt = self.pool.layout.block_tokens;
        let start = self.tokens.len();
        let end = start + new_tokens;
        for b in start / bt..self.blocks.len().min(end.div_ceil(bt)) {
            Arc::make_mut(&mut self.blocks[b]);
        }
        while self.blocks.len() < end.div_ceil(bt) {
            self.blocks.push(Arc::new(KvBlock::new(&self.pool)));
        }
    }

    /// Records that the next tokens' keys and values have been written.
    pub(crate) fn push_tokens(&mut self, tokens: &[u32]) {
        self.tokens.extend_from_slice(tokens);
    }

    /// Writes the key and value of position `pos` (reserved beforehand) for
    /// one layer.
    pub(crate) fn write(
        &mut self,
        layer: usize,
        pos: usize,
        key: &[f32],
        value: &[f32],
    ) -> Result<()> {
        let layout = self.pool.layout;
        let (b, slot) = (pos / layout.block_tokens, pos % layout.block_tokens);
        let block = self
            .blocks
            .get_mut(b)
            .and_then(Arc::get_mut)
            .ok_or_else(|| {
                ExecutorError::Generation(format!("KV block for position {pos} was not reserved"))
            })?;
        let slab = layout.block_tokens * layout.kv_dim;
        let k_at = layer * 2 * slab + slot * layout.kv_dim;
        let v_at = k_at + slab;
        block.data[k_at..k_at + layout.kv_dim].copy_from_slice(key);
        block.data[v_at..v_at + layout.kv_dim].copy_from_slice(value);
        Ok(())
    }

    /// Keys and values of one layer for the block holding position
    /// `block * block_tokens`: two `block_tokens × kv_dim` slabs.
    pub(crate) fn layer_block(&self, layer: usize, block: usize) -> (&[f32], &[f32]) {
        let layout = self.pool.layout;
        let slab = layout.block_tokens * layout.kv_dim;
        let data = &self.blocks[block].data;
        let k_at = layer * 2 * slab;
        (
            &data[k_at..k_at + slab],
            &data[k_at + slab..k_at + 2 * slab],
        )
    }

    pub(crate) fn pool(&self) -> &Arc<KvPool> {
        &self.pool
    }
}

/// Grants a batch its blocks, or says why it cannot have them.
pub(crate) fn reserve_all(pool: &KvPool, seqs: &mut [(&mut KvSequence, usize)]) -> Result<()> {
    let needed: usize = seqs.iter().map(|(s, n)| s.blocks_needed(*n)).sum();
    if !pool.fits(needed) {
        return Err(ExecutorError::Generation(format!(
            "KV cache budget exhausted: {} MiB in use, {} MiB more needed, budget {} MiB",
            pool.bytes_in_use() >> 20,
            (needed * pool.layout.block_bytes()) >> 20,
            pool.budget_bytes >> 20
        )));
    }
    for (seq, n) in seqs.iter_mut() {
        seq.reserve(*n);
    }
    Ok(())
}

/// Whether `extra_blocks` more blocks fit the budget now.
pub(crate) fn fits(pool: &KvPool, extra_blocks: usize) -> bool {
    pool.fits(extra_blocks)
}

/// Finished sequences kept so that a later request whose tokens start the
/// same way reuses their keys and values.
pub(crate) struct PrefixCache {
    entries: Vec<(KvSequence, u64)>,
    capacity: usize,
    clock: u64,
}

impl PrefixCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Vec::new(),
            capacity,
            clock: 0,
        }
    }

    /// The longest cached prefix of `tokens`, forked, leaving at least one
    /// token to run (its logits are needed) — or an empty sequence.
    pub(crate) fn lookup(&mut self, pool: &Arc<KvPool>, tokens: &[u32]) -> KvSequence {
        self.clock += 1;
        let limit = tokens.len().saturating_sub(1);
        let best = self
            .entries
            .iter_mut()
            .map(|(seq, used)| (common_prefix(seq.tokens(), tokens).min(limit), seq, used))
            .max_by_key(|(n, _, _)| *n);
        match best {
            Some((n, seq, used)) if n > 0 => {
                *used = self.clock;
                let mut fork = seq.fork();
                fork.truncate(n);
                fork
            }
            _ => KvSequence::new(pool),
        }
    }

    /// Keeps `seq` (a fork of it; cheap). Entries it extends are dropped;
    /// if an entry already covers it, that entry is refreshed instead.
    pub(crate) fn insert(&mut self, seq: &KvSequence) {
        if seq.is_empty() || self.capacity == 0 {
            return;
        }
        self.clock += 1;
        let clock = self.clock;
        if let Some((_, used)) = self
            .entries
            .iter_mut()
            .find(|(e, _)| e.tokens().starts_with(seq.tokens()))
        {
            *used = clock;
            return;
        }
        self.entries
            .retain(|(e, _)| !seq.tokens().starts_with(e.tokens()));
        self.entries.push((seq.fork(), clock));
        while self.entries.len() > self.capacity {
            self.evict_oldest();
        }
    }

    /// Drops the least recently used entry; false when empty.
    pub(crate) fn evict_oldest(&mut self) -> bool {
        let oldest = self
            .entries
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, used))| *used)
            .map(|(i, _)| i);
        match oldest {
            Some(i) => {
                self.entries.swap_remove(i);
                true
            }
            None => false,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Length of the common prefix of two token lists.
pub fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
