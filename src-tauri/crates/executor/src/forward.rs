//! One forward pass over a ragged batch.
//!
//! All new tokens of all sequences are packed into one `[T, hidden]`
//! activation, so every weight matrix is read once per pass. Only attention
//! looks at sequences separately: each token attends to its own sequence's
//! cache up to its own position (causal within the new tokens too).
//!
//! Every per-token computation is independent of what else is in the batch
//! and of how a sequence's tokens are split across passes, so a token's
//! logits are bit-for-bit the same batched or alone, prefilled at once or
//! one token at a time. Speculative decoding relies on this for greedy
//! outputs identical to plain decoding.

use rayon::prelude::*;

use super::gguf::{ModelConfig, ModelWeights};
use super::kv::KvSequence;
use super::quant::{self, ActSet, ActView, MatmulTask, QWeight};
use super::simd::{
    add_weighted_rows, dot_f32, dot_f32_rows, exp_sub_in_place, scale_and_max, silu_mul,
};
use crate::error::Result;

/// Values per parallel job of the MLP's SiLU (a few jobs per token).
const SILU_CHUNK: usize = 2048;

/// Buffers reused from pass to pass so the hot path does not allocate
/// per token.
#[derive(Default)]
pub(crate) struct Scratch {
    x: Vec<f32>,
    h: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    attn: Vec<f32>,
    parts: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    acts: ActSet,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

/// One sequence's share of a pass.
pub(crate) struct PassItem<'a> {
    pub seq: &'a mut KvSequence,
    pub tokens: &'a [u32],
    /// Logits wanted for the last `logit_rows` of `tokens`.
    pub logit_rows: usize,
}

/// Precomputed RoPE inverse frequencies, in f32 like candle computes them.
pub(crate) fn rope_inv_freq(config: &ModelConfig) -> Vec<f32> {
    (0..config.rope_dim)
        .step_by(2)
        .map(|i| 1f32 / config.rope_base.powf(i as f32 / config.rope_dim as f32))
        .collect()
}

fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut Vec<f32>) {
    let dim = weight.len();
    out.clear();
    out.resize(x.len(), 0.0);
    for (row, o) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
        let mean = row.iter().map(|v| v * v).sum::<f32>() / dim as f32;
        let scale = 1.0 / (mean + eps).sqrt();
        for ((o, &v), &w) in o.iter_mut().zip(row).zip(weight) {
            *o = v * scale * w;
        }
    }
}

fn rope(
    x: &mut [f32],
    heads: usize,
    head_dim: usize,
    rot: usize,
    interleaved: bool,
    cos: &[f32],
    sin: &[f32],
) {
    let half = rot / 2;
    for (t, row) in x.chunks_exact_mut(heads * head_dim).enumerate() {
        let (c, s) = (
            &cos[t * half..(t + 1) * half],
            &sin[t * half..(t + 1) * half],
        );
        for head in row.chunks_exact_mut(head_dim) {
            for i in 0..half {
                let (a, b) = if interleaved {
                    (2 * i, 2 * i + 1)
                } else {
                    (i, i + half)
                };
                let (x0, x1) = (head[a], head[b]);
                head[a] = x0 * c[i] - x1 * s[i];
                head[b] = x0 * s[i] + x1 * c[i];
            }
        }
    }
}

fn add_bias(x: &mut [f32], bias: Option<&Vec<f32>>) {
    if let Some(b) = bias {
        for row in x.chunks_exact_mut(b.len()) {
            for (v, bv) in row.iter_mut().zip(b) {
                *v += bv;
            }
        }
    }
}

/// Multiplies `x` (token-major rows of `cols`) by each weight, writing
/// token-major results into `outs`. All weights share one parallel region.
/// The kernels write every value, so an output's earlier values are not
/// cleared first (for the output matrix, megabytes a pass).
fn project(
    x: &[f32],
    cols: usize,
    weights: &[&QWeight],
    acts: &mut ActSet,
    outs: &mut [&mut Vec<f32>],
    threads: usize,
) {
    let tokens = x.len() / cols;
    acts.prepare(x, cols, weights);
    let view = ActView {
        f32: x,
        cols,
        quantized: acts,
    };
    let mut tasks = Vec::with_capacity(weights.len());
    for (w, out) in weights.iter().zip(outs.iter_mut()) {
        out.truncate(w.rows * tokens);
        out.resize(w.rows * tokens, 0.0);
        tasks.push(MatmulTask {
            weight: w,
            act: &view,
            out,
        });
    }
    quant::matmul_batch(tasks, threads);
}

/// Runs one pass; returns per item its logits rows (`logit_rows × vocab`).
pub(crate) fn forward_pass(
    model: &ModelWeights,
    config: &ModelConfig,
    inv_freq: &[f32],
    s: &mut Scratch,
    items: &mut [PassItem<'_>],
    threads: usize,
) -> Result<Vec<Vec<f32>>> {
    let hidden = config.hidden;
    let hd = config.head_dim;
    let kv_dim = config.kv_dim();
    let half = config.rope_dim / 2;

    // Token layout of the pass: which item and position each row is.
    let mut positions = Vec::new();
    let mut starts = Vec::with_capacity(items.len());
    for item in items.iter() {
        starts.push(positions.len());
        let p0 = item.seq.len();
        positions.extend((0..item.tokens.len()).map(|i| p0 + i));
    }
    let t_total = positions.len();
    if t_total == 0 {
        return Ok(items.iter().map(|_| Vec::new()).collect());
    }

    // Embeddings.
    s.x.clear();
    s.x.resize(t_total * hidden, 0.0);
    let mut row = 0;
    for item in items.iter() {
        for &tok in item.tokens {
            let tok = tok as usize;
            if tok >= model.embed.rows() {
                return Err(crate::error::ExecutorError::Generation(format!(
                    "token id {tok} is outside the vocabulary ({})",
                    model.embed.rows()
                )));
            }
            model
                .embed
                .dequantize_row(tok, &mut s.x[row * hidden..(row + 1) * hidden]);
            row += 1;
        }
    }

    // RoPE angles per token (shared by all layers).
    s.cos.clear();
    s.sin.clear();
    for &p in &positions {
        for &f in inv_freq {
            let angle = p as f32 * f;
            s.cos.push(angle.cos());
            s.sin.push(angle.sin());
        }
    }

    for (layer_idx, layer) in model.layers.iter().enumerate() {
        // Attention block.
        rms_norm(&s.x, &layer.attn_norm, config.rms_eps, &mut s.h);
        project(
            &s.h,
            hidden,
            &[&layer.wq, &layer.wk, &layer.wv],
            &mut s.acts,
            &mut [&mut s.q, &mut s.k, &mut s.v],
            threads,
        );
        add_bias(&mut s.q, layer.bq.as_ref());
        add_bias(&mut s.k, layer.bk.as_ref());
        add_bias(&mut s.v, layer.bv.as_ref());
        rope(
            &mut s.q,
            config.heads,
            hd,
            config.rope_dim,
            config.rope_interleaved,
            &s.cos,
            &s.sin,
        );
        rope(
            &mut s.k,
            config.kv_heads,
            hd,
            config.rope_dim,
            config.rope_interleaved,
            &s.cos,
            &s.sin,
        );
        debug_assert_eq!(s.cos.len(), t_total * half);

        for (item, &start) in items.iter_mut().zip(&starts) {
            let p0 = item.seq.len();
            for i in 0..item.tokens.len() {
                let t = start + i;
                item.seq.write(
                    layer_idx,
                    p0 + i,
                    &s.k[t * kv_dim..(t + 1) * kv_dim],
                    &s.v[t * kv_dim..(t + 1) * kv_dim],
                )?;
            }
        }
        attention(
            config,
            layer_idx,
            items,
            &starts,
            &s.q,
            &mut s.parts,
            &mut s.attn,
        );

        project(
            &s.attn,
            hidden,
            &[&layer.wo],
            &mut s.acts,
            &mut [&mut s.h],
            threads,
        );
        for (x, o) in s.x.iter_mut().zip(&s.h) {
            *x += o;
        }

        // MLP block.
        rms_norm(&s.x, &layer.ffn_norm, config.rms_eps, &mut s.h);
        project(
            &s.h,
            hidden,
            &[&layer.w_gate, &layer.w_up],
            &mut s.acts,
            &mut [&mut s.gate, &mut s.up],
            threads,
        );
        // SiLU(gate) · up: one exp per value (8960 a token), on both cores.
        s.gate
            .par_chunks_mut(SILU_CHUNK)
            .zip(s.up.par_chunks(SILU_CHUNK))
            .for_each(|(gate, up)| silu_mul(gate, up));
        project(
            &s.gate,
            config.ffn_hidden,
            &[&layer.w_down],
            &mut s.acts,
            &mut [&mut s.h],
            threads,
        );
        for (x, o) in s.x.iter_mut().zip(&s.h) {
            *x += o;
        }
    }

    // Logits only for the rows asked for.
    let mut rows = Vec::new();
    for (item, &start) in items.iter().zip(&starts) {
        let m = item.tokens.len();
        let wanted = item.logit_rows.min(m);
        rows.extend(start + m - wanted..start + m);
    }
    let mut out: Vec<Vec<f32>> = items.iter().map(|_| Vec::new()).collect();
    if rows.is_empty() {
        return Ok(out);
    }
    let mut picked = Vec::with_capacity(rows.len() * hidden);
    for &r in &rows {
        picked.extend_from_slice(&s.x[r * hidden..(r + 1) * hidden]);
    }
    rms_norm(&picked, &model.out_norm, config.rms_eps, &mut s.h);
    let output = model.output();
    let mut logits = Vec::new();
    project(
        &s.h,
        hidden,
        &[output],
        &mut s.acts,
        &mut [&mut logits],
        threads,
    );
    let computed = output.rows();
    if items.len() == 1 && model.head_ids.is_none() {
        // One item (every pass but Lookahead's branches): its rows are all.
        out[0] = logits;
        return Ok(out);
    }
    let mut at = 0;
    for (item, o) in items.iter().zip(out.iter_mut()) {
        let wanted = item.logit_rows.min(item.tokens.len());
        let rows = &logits[at * computed..(at + wanted) * computed];
        *o = match &model.head_ids {
            None => rows.to_vec(),
            // A shortlist head: its logits in their tokens' places.
            Some(ids) => {
                let mut full = vec![f32::NEG_INFINITY; wanted * config.vocab];
                for (short, row) in rows
                    .chunks_exact(computed)
                    .zip(full.chunks_exact_mut(config.vocab))
                {
                    for (&id, &v) in ids.iter().zip(short) {
                        row[id as usize] = v;
                    }
                }
                full
            }
        };
        at += wanted;
    }
    Ok(out)
}

/// Causal attention of every new token against its own sequence's cache,
/// one parallel job per (sequence, head); results land in `attn`
/// (token-major, heads side by side).
fn attention(
    config: &ModelConfig,
    layer: usize,
    items: &[PassItem<'_>],
    starts: &[usize],
    q: &[f32],
    parts: &mut Vec<f32>,
    attn: &mut Vec<f32>,
) {
    let hidden = config.hidden;
    let hd = config.head_dim;
    let heads = config.heads;
    let group = heads / config.kv_heads;
    let scale = 1.0 / (hd as f32).sqrt();
    let t_total: usize = items.iter().map(|i| i.tokens.len()).sum();
    parts.clear();
    parts.resize(t_total * hidden, 0.0);

    // Carve `parts` into one chunk per job: [item][head][token][dim].
    let mut jobs = Vec::with_capacity(items.len() * heads);
    let mut rest: &mut [f32] = parts;
    for (idx, item) in items.iter().enumerate() {
        let m = item.tokens.len();
        for h in 0..heads {
            let (chunk, tail) = rest.split_at_mut(m * hd);
            rest = tail;
            if m > 0 {
                jobs.push((idx, h, chunk));
            }
        }
    }
    jobs.into_par_iter()
        .with_max_len(1)
        .for_each(|(idx, h, out)| {
            let item = &items[idx];
            let seq: &KvSequence = &*item.seq;
            let m = item.tokens.len();
            let p0 = seq.len();
            let g = h / group;
            let bt = seq.pool().layout().block_tokens;
            let kv_dim = config.kv_dim();
            let mut scores: Vec<f32> = Vec::with_capacity(p0 + m);
            for i in 0..m {
                let t = starts[idx] + i;
                let pos = p0 + i;
                let qh = &q[t * hidden + h * hd..t * hidden + (h + 1) * hd];
                scores.clear();
                for b in 0..=pos / bt {
                    let (keys, _) = seq.layer_block(layer, b);
                    let n = (pos + 1 - b * bt).min(bt);
                    let key =
                        |slot: usize| &keys[slot * kv_dim + g * hd..slot * kv_dim + (g + 1) * hd];
                    let from = scores.len();
                    scores.resize(from + n, 0.0);
                    let dots = &mut scores[from..];
                    // Four keys a call, then the rest one at a time.
                    let fours = n / 4 * 4;
                    for s in (0..fours).step_by(4) {
                        let four = dot_f32_rows(qh, [key(s), key(s + 1), key(s + 2), key(s + 3)]);
                        dots[s..s + 4].copy_from_slice(&four);
                    }
                    for (s, d) in dots.iter_mut().enumerate().skip(fours) {
                        *d = dot_f32(qh, key(s));
                    }
                }
                let max = scale_and_max(&mut scores, scale);
                exp_sub_in_place(&mut scores, max);
                // In order, one add after another: the plain loop's sum.
                let mut sum = 0f32;
                for sc in &scores {
                    sum += sc;
                }
                let inv = 1.0 / sum;
                for sc in scores.iter_mut() {
                    *sc *= inv;
                }
                let o = &mut out[i * hd..(i + 1) * hd];
                o.fill(0.0);
                for b in 0..=pos / bt {
                    let (_, values) = seq.layer_block(layer, b);
                    let n = (pos + 1 - b * bt).min(bt);
                    add_weighted_rows(o, &scores[b * bt..b * bt + n], &values[g * hd..], kv_dim);
                }
            }
        });

    // Back to token-major rows.
    attn.clear();
    attn.resize(t_total * hidden, 0.0);
    let mut at = 0;
    for (idx, item) in items.iter().enumerate() {
        let m = item.tokens.len();
        for h in 0..heads {
            for i in 0..m {
                let t = starts[idx] + i;
                attn[t * hidden + h * hd..t * hidden + (h + 1) * hd]
                    .copy_from_slice(&parts[at + i * hd..at + (i + 1) * hd]);
            }
            at += m * hd;
        }
    }
}
