//! The data formats the executor computes with: GGUF weight blocks (as
//! types, with their sizes), how a weight matrix is laid out, and the
//! integer encodings of activations the AVX2 kernels read. Both the kernels
//! and the multiply build on this file; it depends on neither (only on the
//! float helpers in `simd`).

use std::mem::size_of;

use half::f16;
use rayon::prelude::*;

use candle_core::quantized::GgmlDType;

use crate::simd;

/// Elements in a k-quant super-block.
pub(crate) const QK_K: usize = 256;
/// Elements in a legacy (Q4_0 … Q8_0) block.
pub(crate) const QK: usize = 32;

/// The weight encodings the executor can multiply with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightFormat {
    F32,
    F16,
    BF16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q4K,
    Q5K,
    Q6K,
}

impl WeightFormat {
    /// Maps candle's GGUF type; `None` for types we have no kernels for.
    pub fn from_ggml(dtype: GgmlDType) -> Option<Self> {
        Some(match dtype {
            GgmlDType::F32 => Self::F32,
            GgmlDType::F16 => Self::F16,
            GgmlDType::BF16 => Self::BF16,
            GgmlDType::Q4_0 => Self::Q4_0,
            GgmlDType::Q4_1 => Self::Q4_1,
            GgmlDType::Q5_0 => Self::Q5_0,
            GgmlDType::Q5_1 => Self::Q5_1,
            GgmlDType::Q8_0 => Self::Q8_0,
            GgmlDType::Q4K => Self::Q4K,
            GgmlDType::Q5K => Self::Q5K,
            GgmlDType::Q6K => Self::Q6K,
            GgmlDType::Q8_1 | GgmlDType::Q2K | GgmlDType::Q3K | GgmlDType::Q8K => return None,
        })
    }

    /// Elements per block.
    pub fn block_elems(self) -> usize {
        match self {
            Self::F32 | Self::F16 | Self::BF16 => 1,
            Self::Q4_0 | Self::Q4_1 | Self::Q5_0 | Self::Q5_1 | Self::Q8_0 => QK,
            Self::Q4K | Self::Q5K | Self::Q6K => QK_K,
        }
    }

    /// Bytes per block (ggml's `type_size`).
    pub fn block_bytes(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::Q4_0 => size_of::<blocks::BlockQ4_0>(),
            Self::Q4_1 => size_of::<blocks::BlockQ4_1>(),
            Self::Q5_0 => size_of::<blocks::BlockQ5_0>(),
            Self::Q5_1 => size_of::<blocks::BlockQ5_1>(),
            Self::Q8_0 => size_of::<blocks::BlockQ8_0>(),
            Self::Q4K => size_of::<blocks::BlockQ4K>(),
            Self::Q5K => size_of::<blocks::BlockQ5K>(),
            Self::Q6K => size_of::<blocks::BlockQ6K>(),
        }
    }

    /// Bytes of one row of `cols` elements, `None` when `cols` does not
    /// split into whole blocks.
    pub fn row_bytes(self, cols: usize) -> Option<usize> {
        cols.is_multiple_of(self.block_elems())
            .then(|| cols / self.block_elems() * self.block_bytes())
    }

    /// How activations are encoded for this format's AVX2 kernel, or `None`
    /// when it has none (it runs on f32 activations).
    pub(crate) fn kernel_activation_format(self) -> Option<ActFormat> {
        match self {
            Self::Q4K | Self::Q6K => Some(ActFormat::Q8K),
            Self::Q4_0 | Self::Q5_0 | Self::Q8_0 => Some(ActFormat::Q8_0),
            Self::Q4_1 => Some(ActFormat::Q8_1),
            Self::F32 | Self::F16 | Self::BF16 | Self::Q5_1 | Self::Q5K => None,
        }
    }
}

/// How a weight matrix's blocks are arranged in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightLayout {
    /// As in the GGUF file: each row a contiguous run of blocks.
    Rows,
    /// Q4_K, Q6_K and Q8_0: eight rows interleaved block by block so one
    /// 32-byte load feeds eight rows at once (see `quant::interleave_q4k`,
    /// `quant::interleave_q6k` and `quant::interleave_q8_0`).
    Interleaved8,
    /// Q4_K and Q6_K where the CPU has the 512-bit VNNI kernels: two
    /// `Interleaved8` groups (16 rows) block by block, each block the
    /// first group's scales, the second's, then the two groups' quant
    /// bytes 32 at a time, one run from each. One 64-byte load then feeds
    /// 16 rows, and a pass reads memory strictly front to back (two groups
    /// read side by side ran at half the memory speed on an AMD EPYC; see
    /// `quant::pair_groups`).
    Paired16,
}

/// The GGUF block layouts the executor reads, as types: their sizes are the
/// byte counts [`WeightFormat::block_bytes`] gives (checked when compiling),
/// and the field offsets the kernels and dequantizers use.
#[allow(dead_code)] // Layout declarations: read as bytes, sized from here.
pub(crate) mod blocks {
    use half::f16;

    use super::{QK, QK_K};

    #[repr(C)]
    pub struct BlockQ4_0 {
        pub d: f16,
        pub qs: [u8; QK / 2],
    }
    #[repr(C)]
    pub struct BlockQ4_1 {
        pub d: f16,
        pub m: f16,
        pub qs: [u8; QK / 2],
    }
    #[repr(C)]
    pub struct BlockQ5_0 {
        pub d: f16,
        pub qh: [u8; 4],
        pub qs: [u8; QK / 2],
    }
    #[repr(C)]
    pub struct BlockQ5_1 {
        pub d: f16,
        pub m: f16,
        pub qh: [u8; 4],
        pub qs: [u8; QK / 2],
    }
    #[repr(C)]
    pub struct BlockQ8_0 {
        pub d: f16,
        pub qs: [i8; QK],
    }
    #[repr(C)]
    pub struct BlockQ4K {
        pub d: f16,
        pub dmin: f16,
        pub scales: [u8; 12],
        pub qs: [u8; QK_K / 2],
    }
    #[repr(C)]
    pub struct BlockQ5K {
        pub d: f16,
        pub dmin: f16,
        pub scales: [u8; 12],
        pub qh: [u8; QK_K / 8],
        pub qs: [u8; QK_K / 2],
    }
    #[repr(C)]
    pub struct BlockQ6K {
        pub ql: [u8; QK_K / 2],
        pub qh: [u8; QK_K / 4],
        pub scales: [i8; QK_K / 16],
        pub d: f16,
    }
    /// Eight Q4_K rows interleaved (see `quant::interleave_q4k`).
    #[repr(C)]
    pub struct BlockQ4KX8 {
        pub d: [f16; 8],
        pub dmin: [f16; 8],
        pub scales: [u8; 64],
        pub mins: [u8; 64],
        pub qs: [u8; 8 * QK_K / 2],
    }
    /// Eight Q6_K rows interleaved (see `quant::interleave_q6k`).
    #[repr(C)]
    pub struct BlockQ6KX8 {
        pub d: [f16; 8],
        pub scales: [i8; 128],
        pub ql: [u8; 8 * QK_K / 2],
        pub qh: [u8; 8 * QK_K / 4],
    }

    /// Eight Q8_0 rows interleaved (see `quant::interleave_q8_0`): the
    /// rows' scales, then eight runs of 32 bytes, each four columns of
    /// the eight rows.
    #[repr(C)]
    pub struct BlockQ8_0X8 {
        pub d: [f16; 8],
        pub qs: [i8; 8 * QK],
    }

    /// Eight Q5_0 rows interleaved (see `quant::interleave_q5_0`): the
    /// rows' scales, four 32-byte runs of low nibbles (a byte holds one
    /// row's column c of run 2p and, in its high nibble, of run 2p + 1),
    /// then per run of four columns the 32 fifth bits of the eight rows.
    #[repr(C)]
    pub struct BlockQ5_0X8 {
        pub d: [f16; 8],
        pub qs: [u8; 8 * QK / 2],
        pub qh: [u8; 8 * QK / 8],
    }

    const _: () = assert!(std::mem::size_of::<BlockQ4_0>() == 18);
    const _: () = assert!(std::mem::size_of::<BlockQ4_1>() == 20);
    const _: () = assert!(std::mem::size_of::<BlockQ5_0>() == 22);
    const _: () = assert!(std::mem::size_of::<BlockQ5_1>() == 24);
    const _: () = assert!(std::mem::size_of::<BlockQ8_0>() == 34);
    const _: () = assert!(std::mem::size_of::<BlockQ4K>() == 144);
    const _: () = assert!(std::mem::size_of::<BlockQ5K>() == 176);
    const _: () = assert!(std::mem::size_of::<BlockQ6K>() == 210);
    const _: () = assert!(std::mem::size_of::<BlockQ4KX8>() == 16 + 16 + 64 + 64 + 1024);
    const _: () = assert!(std::mem::size_of::<BlockQ6KX8>() == 16 + 128 + 1024 + 512);
    // The kernels' offsets of the quant bytes.
    const _: () = assert!(std::mem::offset_of!(BlockQ4KX8, qs) == 160);
    const _: () = assert!(std::mem::offset_of!(BlockQ6KX8, ql) == 144);
    const _: () = assert!(std::mem::size_of::<BlockQ8_0X8>() == 8 * 34);
    const _: () = assert!(std::mem::size_of::<BlockQ5_0X8>() == 8 * 22);
}

/// Bytes of one interleaved Q4_K group block: eight rows × 256 columns.
pub(crate) const Q4K_X8_BYTES: usize = size_of::<blocks::BlockQ4KX8>();
/// Bytes of one interleaved Q8_0 group block: exactly eight file blocks.
pub(crate) const Q8_0_X8_BYTES: usize = size_of::<blocks::BlockQ8_0X8>();
/// Bytes of one interleaved Q5_0 group block: exactly eight file blocks.
pub(crate) const Q5_0_X8_BYTES: usize = size_of::<blocks::BlockQ5_0X8>();
/// Bytes of one interleaved Q6_K group block: exactly eight file blocks.
pub(crate) const Q6K_X8_BYTES: usize = size_of::<blocks::BlockQ6KX8>();

/// Bytes at the front of an interleaved Q4_K or Q6_K block before its
/// quant bytes: what a [`WeightLayout::Paired16`] block keeps whole for each
/// of its two groups.
pub(crate) fn paired_header_bytes(format: WeightFormat) -> usize {
    match format {
        WeightFormat::Q4K => std::mem::offset_of!(blocks::BlockQ4KX8, qs),
        _ => std::mem::offset_of!(blocks::BlockQ6KX8, ql),
    }
}

/// Bytes of eight rows × 256 columns in the interleaved layout of `format`.
pub(crate) fn interleaved_block_bytes(format: WeightFormat) -> usize {
    match format {
        WeightFormat::Q4K => Q4K_X8_BYTES,
        WeightFormat::Q8_0 => Q8_0_X8_BYTES,
        WeightFormat::Q5_0 => Q5_0_X8_BYTES,
        _ => Q6K_X8_BYTES,
    }
}

/// Integer encodings of activations used by the AVX2 kernels. Layouts are
/// ours (scales stored as f32 so kernels skip the f16 conversion), values
/// follow ggml's quantizers so results track llama.cpp and candle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ActFormat {
    /// 32 values: scale f32 (rounded through f16 like ggml) + 32 × i8.
    Q8_0,
    /// As Q8_0 plus f32 `s` = scale × Σq (for formats with a min).
    Q8_1,
    /// 256 values: scale f32 + 256 × i8 + 16 × i16 sums of 16 + 8 × i16
    /// sums of 32 (Q6_K's scales cover 16 columns, Q4_K's 32).
    Q8K,
}

impl ActFormat {
    pub(crate) fn block_elems(self) -> usize {
        match self {
            Self::Q8_0 | Self::Q8_1 => QK,
            Self::Q8K => QK_K,
        }
    }
    pub(crate) fn block_bytes(self) -> usize {
        match self {
            Self::Q8_0 => 4 + 32,
            Self::Q8_1 => 8 + 32,
            Self::Q8K => 4 + 256 + 32 + 16,
        }
    }
}

/// A batch of activation rows quantized for one [`ActFormat`].
#[derive(Default)]
pub(crate) struct QuantizedActs {
    format: Option<ActFormat>,
    row_bytes: usize,
    data: Vec<u8>,
}

impl QuantizedActs {
    /// Quantizes `rows` rows of `cols` values from `x`, reusing the buffer.
    pub(crate) fn quantize(&mut self, format: ActFormat, x: &[f32], cols: usize) {
        let rows = x.len() / cols;
        let blocks = cols / format.block_elems();
        self.format = Some(format);
        self.row_bytes = blocks * format.block_bytes();
        self.data.clear();
        self.data.resize(rows * self.row_bytes, 0);
        let bb = format.block_bytes();
        let be = format.block_elems();
        let quantize_row = |(src, dst): (&[f32], &mut [u8])| {
            for (xs, out) in src.chunks_exact(be).zip(dst.chunks_exact_mut(bb)) {
                match format {
                    ActFormat::Q8_0 => quantize_q8_0(xs, out, false),
                    ActFormat::Q8_1 => quantize_q8_0(xs, out, true),
                    ActFormat::Q8K => quantize_q8k(xs, out),
                }
            }
        };
        if rows >= 8 {
            x.par_chunks_exact(cols)
                .zip(self.data.par_chunks_exact_mut(self.row_bytes))
                .for_each(quantize_row);
        } else {
            x.chunks_exact(cols)
                .zip(self.data.chunks_exact_mut(self.row_bytes))
                .for_each(quantize_row);
        }
    }

    /// Marks the buffer as holding no encoding (kept for reuse).
    pub(crate) fn forget(&mut self) {
        self.format = None;
    }

    pub(crate) fn format(&self) -> Option<ActFormat> {
        self.format
    }

    /// Rows encoded.
    pub(crate) fn rows(&self) -> usize {
        self.data.len().checked_div(self.row_bytes).unwrap_or(0)
    }

    pub(crate) fn row(&self, row: usize) -> &[u8] {
        &self.data[row * self.row_bytes..(row + 1) * self.row_bytes]
    }
}

/// ggml's `quantize_row_q8_0` / `q8_1`: scale = max|x| / 127.
fn quantize_q8_0(xs: &[f32], out: &mut [u8], with_sum: bool) {
    let amax = simd::max_abs(xs);
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let d16 = f16::from_f32(d);
    let qs_at = if with_sum { 8 } else { 4 };
    let qs = &mut out[qs_at..qs_at + 32];
    simd::round_to_i8(xs, id, 0, qs);
    let sum: i32 = qs.iter().map(|&q| q as i8 as i32).sum();
    out[0..4].copy_from_slice(&d16.to_f32().to_le_bytes());
    if with_sum {
        // candle computes s in f16 arithmetic; do the same so dot products
        // agree with it.
        let s = (f16::from_f32(sum as f32) * d16).to_f32();
        out[4..8].copy_from_slice(&s.to_le_bytes());
    }
}

/// ggml's `quantize_row_q8_K`: scale from the value of largest magnitude.
fn quantize_q8k(xs: &[f32], out: &mut [u8]) {
    let amax = simd::max_abs(xs);
    if amax == 0.0 {
        out.fill(0);
        return;
    }
    // The first value of that magnitude, with its sign.
    let max = xs.iter().copied().find(|x| x.abs() == amax).unwrap_or(amax);
    let iscale = -128.0 / max;
    let (head, rest) = out.split_at_mut(4);
    let (qs, sums) = rest.split_at_mut(256);
    let (sums16, sums32) = sums.split_at_mut(32);
    // `.round().min(127.0) as i8`: the cap is the cast's, but NaN → 127.
    simd::round_to_i8(xs, iscale, 127, qs);
    let sum_of = |range: std::ops::Range<usize>| -> i16 {
        // At most 32 × 128 in magnitude: fits.
        qs[range].iter().map(|&q| q as i8 as i32).sum::<i32>() as i16
    };
    for (g, sum_bytes) in sums16.chunks_exact_mut(2).enumerate() {
        sum_bytes.copy_from_slice(&sum_of(g * 16..g * 16 + 16).to_le_bytes());
    }
    for (g, sum_bytes) in sums32.chunks_exact_mut(2).enumerate() {
        sum_bytes.copy_from_slice(&sum_of(g * 32..g * 32 + 32).to_le_bytes());
    }
    head.copy_from_slice(&(1.0 / iscale).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoders as they were written first, one value at a time.
    fn plain_q8k(xs: &[f32], out: &mut [u8]) {
        let mut max = 0f32;
        let mut amax = 0f32;
        for &x in xs {
            if amax < x.abs() {
                amax = x.abs();
                max = x;
            }
        }
        if amax == 0.0 {
            out.fill(0);
            return;
        }
        let iscale = -128.0 / max;
        for (q, &x) in out[4..260].iter_mut().zip(xs) {
            *q = ((iscale * x).round().min(127.0) as i8) as u8;
        }
        let sum_of = |r: std::ops::Range<usize>| -> i16 {
            out[4 + r.start..4 + r.end]
                .iter()
                .map(|&q| q as i8 as i32)
                .sum::<i32>() as i16
        };
        let sums: Vec<i16> = (0..16)
            .map(|g| sum_of(g * 16..g * 16 + 16))
            .chain((0..8).map(|g| sum_of(g * 32..g * 32 + 32)))
            .collect();
        for (g, s) in sums.iter().enumerate() {
            out[260 + 2 * g..262 + 2 * g].copy_from_slice(&s.to_le_bytes());
        }
        out[0..4].copy_from_slice(&(1.0 / iscale).to_le_bytes());
    }

    fn plain_q8_0(xs: &[f32], out: &mut [u8], with_sum: bool) {
        let amax = xs.iter().fold(0f32, |m, x| m.max(x.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let d16 = f16::from_f32(d);
        let qs_at = if with_sum { 8 } else { 4 };
        let mut sum = 0i32;
        for (q, &x) in out[qs_at..qs_at + 32].iter_mut().zip(xs) {
            let v = (x * id).round() as i8;
            sum += v as i32;
            *q = v as u8;
        }
        out[0..4].copy_from_slice(&d16.to_f32().to_le_bytes());
        if with_sum {
            let s = (f16::from_f32(sum as f32) * d16).to_f32();
            out[4..8].copy_from_slice(&s.to_le_bytes());
        }
    }

    /// Blocks that probe the edges: halves (with a largest value whose
    /// scale is exactly 1), NaN, signed zeros, the largest magnitude twice
    /// with both signs, all zeros, and ordinary activations.
    fn blocks(len: usize) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        let mut halves: Vec<f32> = (0..len).map(|i| i as f32 * 0.5 - 60.25).collect();
        halves[len / 3] = if len == 256 { -128.0 } else { 127.0 };
        halves[1] = 126.5;
        halves[2] = -2.5;
        halves[3] = 0.5;
        halves[4] = -0.5;
        out.push(halves);
        let mut odd: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
        odd[5] = f32::NAN;
        odd[6] = -0.0;
        odd[7] = -3.0;
        odd[len - 1] = 3.0;
        out.push(odd);
        out.push(vec![0.0; len]);
        let mut x = 0x2545_f491u32;
        for scale in [1e-3f32, 0.7, 40.0] {
            out.push(
                (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        (x as f32 / u32::MAX as f32 - 0.5) * scale
                    })
                    .collect(),
            );
        }
        out
    }

    #[test]
    fn activation_bytes_are_the_plain_encoders_bytes() {
        for xs in blocks(256) {
            let (mut fast, mut plain) = (vec![1u8; 308], vec![1u8; 308]);
            quantize_q8k(&xs, &mut fast);
            plain_q8k(&xs, &mut plain);
            assert_eq!(fast, plain, "Q8_K of {:?}", &xs[..8]);
        }
        for with_sum in [false, true] {
            for xs in blocks(32) {
                let (mut fast, mut plain) = (vec![1u8; 40], vec![1u8; 40]);
                quantize_q8_0(&xs, &mut fast, with_sum);
                plain_q8_0(&xs, &mut plain, with_sum);
                assert_eq!(fast, plain, "Q8_0 ({with_sum}) of {:?}", &xs[..8]);
            }
        }
    }
}
