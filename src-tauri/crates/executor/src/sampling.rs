//! Turning logits into tokens: greedy, temperature + top-p, and the
//! distributions speculative decoding compares.

/// How to choose tokens.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sampling {
    /// 0 = greedy (the default: reproducible answers).
    pub temperature: f64,
    pub top_p: f64,
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

impl Sampling {
    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0
    }
}

/// A small, seedable generator (SplitMix64): reproducible across platforms
/// and with no dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator for one request: the seed mixed with the request's
    /// prompt, so a sampled continuation depends only on (text, seed), not
    /// on which other requests shared its batch.
    pub fn for_prompt(seed: u64, prompt: &[u32]) -> Self {
        let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
        for &t in prompt {
            h = (h ^ t as u64).wrapping_mul(0x100_0000_01B3);
        }
        Self(h)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Index of the largest logit (the first one on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_v {
            best_v = v;
            best = i;
        }
    }
    best as u32
}

/// A next-token distribution after temperature and top-p: dense
/// probabilities (zero outside the nucleus) plus the ids that carry mass.
#[derive(Clone, Debug)]
pub struct Distribution {
    probs: Vec<f32>,
    support: Vec<u32>,
}

impl Distribution {
    /// All mass on `id`: greedy decoding, or an n-gram guess.
    pub fn point(vocab: usize, id: u32) -> Self {
        let mut probs = vec![0f32; vocab];
        if let Some(p) = probs.get_mut(id as usize) {
            *p = 1.0;
        }
        Self {
            probs,
            support: vec![id],
        }
    }

    /// The distribution `sampling` draws from given `logits`.
    pub fn from_logits(logits: &[f32], sampling: &Sampling) -> Self {
        if sampling.is_greedy() {
            return Self::point(logits.len(), argmax(logits));
        }
        let inv_t = 1.0 / sampling.temperature as f32;
        let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let mut probs: Vec<f32> = logits.iter().map(|&v| ((v - max) * inv_t).exp()).collect();
        let total: f32 = probs.iter().sum();
        if sampling.top_p >= 1.0 {
            probs.iter_mut().for_each(|p| *p /= total);
            let support = (0..probs.len() as u32).collect();
            return Self { probs, support };
        }
        let nucleus = nucleus(&probs, total, sampling.top_p as f32);
        let kept: f32 = nucleus.iter().map(|&i| probs[i as usize]).sum();
        let mut dense = vec![0f32; probs.len()];
        for &i in &nucleus {
            dense[i as usize] = probs[i as usize] / kept;
        }
        Self {
            probs: dense,
            support: nucleus,
        }
    }

    /// Size of the vocabulary the distribution covers.
    pub fn len(&self) -> usize {
        self.probs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.probs.is_empty()
    }

    pub fn prob(&self, id: u32) -> f32 {
        self.probs.get(id as usize).copied().unwrap_or(0.0)
    }

    pub fn sample(&self, rng: &mut Rng) -> u32 {
        let total: f64 = self
            .support
            .iter()
            .map(|&i| self.probs[i as usize] as f64)
            .sum();
        let mut u = rng.next_f64() * total;
        for &i in &self.support {
            u -= self.probs[i as usize] as f64;
            if u < 0.0 {
                return i;
            }
        }
        self.support.last().copied().unwrap_or(0)
    }

    /// The residual distribution of speculative sampling,
    /// normalise(max(0, self − draft)), sampled after a rejection. When it
    /// is empty (the two agree) sampling `self` is the right answer.
    pub fn sample_residual(&self, draft: &Distribution, rng: &mut Rng) -> u32 {
        let residual: Vec<(u32, f64)> = self
            .support
            .iter()
            .map(|&i| (i, (self.probs[i as usize] - draft.prob(i)).max(0.0) as f64))
            .filter(|(_, p)| *p > 0.0)
            .collect();
        let total: f64 = residual.iter().map(|(_, p)| p).sum();
        if total <= 0.0 {
            return self.sample(rng);
        }
        let mut u = rng.next_f64() * total;
        for &(i, p) in &residual {
            u -= p;
            if u < 0.0 {
                return i;
            }
        }
        residual.last().map_or(0, |(i, _)| *i)
    }
}

/// The smallest set of ids, most likely first, whose mass reaches `top_p`.
/// Looks at the top 64 first and widens only when needed, so the usual case
/// avoids sorting the whole vocabulary.
fn nucleus(weights: &[f32], total: f32, top_p: f32) -> Vec<u32> {
    let mut k = 64.min(weights.len());
    loop {
        let mut ids: Vec<u32> = (0..weights.len() as u32).collect();
        let by_weight = |a: &u32, b: &u32| {
            weights[*b as usize]
                .partial_cmp(&weights[*a as usize])
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(b))
        };
        if k < ids.len() {
            ids.select_nth_unstable_by(k, by_weight);
            ids.truncate(k);
        }
        ids.sort_by(by_weight);
        let mut cum = 0f32;
        for (n, &i) in ids.iter().enumerate() {
            cum += weights[i as usize] / total;
            if cum >= top_p {
                ids.truncate(n + 1);
                return ids;
            }
        }
        if k >= weights.len() {
            return ids;
        }
        k = (k * 8).min(weights.len());
    }
}

/// Picks the next token: argmax when greedy, else a draw.
pub fn pick(logits: &[f32], sampling: &Sampling, rng: &mut Rng) -> u32 {
    if sampling.is_greedy() {
        argmax(logits)
    } else {
        Distribution::from_logits(logits, sampling).sample(rng)
    }
}
