//! Quantized weight formats (the GGUF block layouts), activation
//! quantization and the batched matrix multiply.
//!
//! The multiply is organised for ragged batches: a job owns a range of weight
//! rows and computes them for every token of the batch, so each weight byte
//! is read from memory once per forward pass however many tokens it holds.
//! The inner dot products come from [`super::kernels`] (AVX2) where a kernel
//! exists, else from a portable path that dequantizes a block at a time.

use half::{bf16, f16};
use rayon::prelude::*;

use crate::format::{
    interleaved_block_bytes, paired_header_bytes, ActFormat, QuantizedActs, Q4K_X8_BYTES,
    Q5_0_X8_BYTES, Q6K_X8_BYTES, Q8_0_X8_BYTES, QK_K,
};
pub use crate::format::{WeightFormat, WeightLayout};
use crate::kernels::OutView;
pub use crate::kernels::{
    allow_paired_layout, allow_vnni, byte_dot, measure_paired_layout, pair_groups_from,
    pairs_groups_from, vnni_peak_macs, wide_vnni, ByteDot,
};
use crate::simd::dot_f32;

/// How activations are encoded for the kernel that will multiply `format`
/// on this machine, or `None` when it runs on f32 activations.
fn activation_format(format: WeightFormat) -> Option<ActFormat> {
    format
        .kernel_activation_format()
        .filter(|_| crate::kernels::available())
}

/// A weight matrix: `rows` output features over `cols` input features, in
/// the GGUF file's block format.
pub struct QWeight {
    pub(crate) format: WeightFormat,
    pub(crate) layout: WeightLayout,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) row_bytes: usize,
    pub(crate) data: Vec<u8>,
}

impl std::fmt::Debug for QWeight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QWeight({:?}, {}x{})", self.format, self.rows, self.cols)
    }
}

impl QWeight {
    /// Wraps raw block bytes; `None` when the sizes do not agree.
    pub fn new(format: WeightFormat, rows: usize, cols: usize, data: Vec<u8>) -> Option<Self> {
        let row_bytes = format.row_bytes(cols)?;
        (data.len() == rows.checked_mul(row_bytes)?).then_some(Self {
            format,
            layout: WeightLayout::Rows,
            rows,
            cols,
            row_bytes,
            data,
        })
    }

    pub fn format(&self) -> WeightFormat {
        self.format
    }
    pub fn layout(&self) -> WeightLayout {
        self.layout
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn size_in_bytes(&self) -> usize {
        self.data.len()
    }

    /// Row `row`'s bytes; only in the file's layout.
    fn row(&self, row: usize) -> &[u8] {
        assert_eq!(self.layout, WeightLayout::Rows);
        &self.data[row * self.row_bytes..(row + 1) * self.row_bytes]
    }

    /// Rearranges the matrix for the fastest multiply this CPU has, when
    /// that is not the file's layout: for a matrix that is only multiplied
    /// (never looked up by row, like the embedding table). Values and
    /// results do not change; memory grows by under 3 % for Q4_K and Q6_K
    /// (rows interleaved by eight) and by 55 % for Q5_0, whose 5-bit values
    /// are widened to Q8_0 bytes with the same scale: unpacking the fifth
    /// bits cost more than the extra bytes on the CPUs measured (the 0.5B
    /// draft's matrices are mostly Q5_0).
    ///
    /// Where the CPU has AVX-512 VNNI, Q5_0 keeps its size instead (rows
    /// interleaved by eight, the fifth bits arranged to become a byte mask
    /// in one instruction), if its rows come in whole pairs of groups (the
    /// 512-bit kernel takes 16 rows at a time): the 0.5B draft reads
    /// 95 MB less per token.
    ///
    /// There, Q4_K and Q6_K matrices whose rows come in whole pairs of
    /// groups take the [`WeightLayout::Paired16`] layout (same size).
    pub fn for_multiply(self) -> Self {
        if self.format == WeightFormat::Q5_0
            && self.layout == WeightLayout::Rows
            && crate::kernels::available()
        {
            if crate::kernels::wide_vnni() && self.rows.is_multiple_of(16) {
                let data =
                    interleave_q5_0(&self.data, self.rows, self.cols / self.format.block_elems());
                return Self {
                    layout: WeightLayout::Interleaved8,
                    data,
                    ..self
                };
            }
            return self.widened_to_q8_0().for_multiply();
        }
        let eight = self.interleaved();
        if matches!(eight.format, WeightFormat::Q4K | WeightFormat::Q6K)
            && eight.layout == WeightLayout::Interleaved8
            && eight.rows.is_multiple_of(16)
            && crate::kernels::paired_layout()
        {
            let data = pair_groups(&eight.data, eight.format, eight.cols / QK_K);
            return Self {
                layout: WeightLayout::Paired16,
                data,
                ..eight
            };
        }
        eight
    }

    /// The matrix in [`WeightLayout::Interleaved8`] even where
    /// [`QWeight::for_multiply`] would pair its groups: for benchmarks that
    /// time the kernels of both layouts; a matrix in the 16-row layout is
    /// put back in groups of eight. Formats without that layout, or
    /// matrices already in groups of eight, are returned as they are.
    pub fn in_groups_of_eight(mut self) -> Self {
        self.unpair_in_place();
        self.interleaved()
    }

    /// A matrix in the 16-row layout back in groups of eight, in place
    /// (where the layout measurement found them faster); others untouched.
    pub(crate) fn unpair_in_place(&mut self) {
        if self.layout == WeightLayout::Paired16 {
            self.data = unpair_groups(&self.data, self.format, self.cols / QK_K);
            self.layout = WeightLayout::Interleaved8;
        }
    }

    /// Q4_K, Q6_K and Q8_0 rows interleaved by eight (the layouts every
    /// x86-64-v3 kernel reads); other formats as they are.
    fn interleaved(self) -> Self {
        let interleave = match self.format {
            WeightFormat::Q4K => interleave_q4k,
            WeightFormat::Q6K => interleave_q6k,
            WeightFormat::Q8_0 => interleave_q8_0,
            _ => return self,
        };
        if self.layout != WeightLayout::Rows
            || !self.rows.is_multiple_of(8)
            || !crate::kernels::available()
        {
            return self;
        }
        let data = interleave(&self.data, self.rows, self.cols / self.format.block_elems());
        Self {
            layout: WeightLayout::Interleaved8,
            data,
            ..self
        }
    }

    /// A matrix of the given rows of this one, in that order; only in the
    /// file's layout (load time, before [`QWeight::for_multiply`]). `None`
    /// when a row is out of range.
    pub(crate) fn select_rows(&self, rows: &[u32]) -> Option<Self> {
        if self.layout != WeightLayout::Rows {
            return None;
        }
        let mut data = Vec::with_capacity(rows.len() * self.row_bytes);
        for &r in rows {
            let r = r as usize;
            if r >= self.rows {
                return None;
            }
            data.extend_from_slice(self.row(r));
        }
        Some(Self {
            format: self.format,
            layout: self.layout,
            rows: rows.len(),
            cols: self.cols,
            row_bytes: self.row_bytes,
            data,
        })
    }

    /// A Q5_0 matrix as Q8_0 with the same values: each block keeps its
    /// scale and stores its 5-bit values minus 16 as bytes, so the products
    /// the multiply adds up are the same integers.
    fn widened_to_q8_0(&self) -> Self {
        let format = WeightFormat::Q8_0;
        let from = WeightFormat::Q5_0.block_bytes();
        let mut data = Vec::with_capacity(self.data.len() / from * format.block_bytes());
        for b in self.data.chunks_exact(from) {
            data.extend_from_slice(&b[..2]);
            data.extend(q5_0_values(b).map(|q| q as u8));
        }
        Self {
            format,
            layout: WeightLayout::Rows,
            rows: self.rows,
            cols: self.cols,
            row_bytes: format.row_bytes(self.cols).unwrap_or(0),
            data,
        }
    }

    /// Writes row `row` as f32 into `out` (length `cols`): embedding lookup.
    pub fn dequantize_row(&self, row: usize, out: &mut [f32]) {
        match self.layout {
            WeightLayout::Rows => dequantize_blocks(self.format, self.row(row), out),
            WeightLayout::Paired16 => {
                let bytes = interleaved_block_bytes(self.format);
                let header = paired_header_bytes(self.format);
                let blocks = self.cols / QK_K;
                let pair = &self.data[row / 16 * blocks * 2 * bytes..][..blocks * 2 * bytes];
                let side = (row % 16) / 8;
                // The row's group block put back together, then read as one.
                let mut x = vec![0u8; bytes];
                for (p, y) in pair.chunks_exact(2 * bytes).zip(out.chunks_exact_mut(QK_K)) {
                    x[..header].copy_from_slice(&p[side * header..][..header]);
                    for (to, from) in x[header..]
                        .chunks_exact_mut(32)
                        .zip(p[2 * header + 32 * side..].chunks(64))
                    {
                        to.copy_from_slice(&from[..32]);
                    }
                    match self.format {
                        WeightFormat::Q4K => dequantize_q4k_x8(&x, row % 8, y),
                        _ => dequantize_q6k_x8(&x, row % 8, y),
                    }
                }
            }
            WeightLayout::Interleaved8 => {
                let bytes = interleaved_block_bytes(self.format);
                let elems = self.format.block_elems();
                let blocks = self.cols / elems;
                let group = &self.data[row / 8 * blocks * bytes..][..blocks * bytes];
                for (x, y) in group.chunks_exact(bytes).zip(out.chunks_exact_mut(elems)) {
                    match self.format {
                        WeightFormat::Q4K => dequantize_q4k_x8(x, row % 8, y),
                        WeightFormat::Q8_0 => dequantize_q8_0_x8(x, row % 8, y),
                        WeightFormat::Q5_0 => dequantize_q5_0_x8(x, row % 8, y),
                        _ => dequantize_q6k_x8(x, row % 8, y),
                    }
                }
            }
        }
    }

    /// The whole matrix as f32 (small tensors such as norms and biases).
    pub fn dequantize_all(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        for (r, chunk) in out.chunks_exact_mut(self.cols).enumerate() {
            self.dequantize_row(r, chunk);
        }
        out
    }
}

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([bytes[at], bytes[at + 1]])).to_f32()
}

/// The 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K block.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// Dequantizes whole blocks: `bytes` holds `out.len() / block_elems` blocks.
pub(crate) fn dequantize_blocks(format: WeightFormat, bytes: &[u8], out: &mut [f32]) {
    let be = format.block_elems();
    let bb = format.block_bytes();
    for (block, y) in bytes.chunks_exact(bb).zip(out.chunks_exact_mut(be)) {
        dequantize_block(format, block, y);
    }
}

fn dequantize_block(format: WeightFormat, b: &[u8], y: &mut [f32]) {
    match format {
        WeightFormat::F32 => y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        WeightFormat::F16 => y[0] = f16_at(b, 0),
        WeightFormat::BF16 => y[0] = bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32(),
        WeightFormat::Q4_0 => {
            let d = f16_at(b, 0);
            for j in 0..16 {
                y[j] = ((b[2 + j] & 0xF) as i32 - 8) as f32 * d;
                y[j + 16] = ((b[2 + j] >> 4) as i32 - 8) as f32 * d;
            }
        }
        WeightFormat::Q4_1 => {
            let (d, m) = (f16_at(b, 0), f16_at(b, 2));
            for j in 0..16 {
                y[j] = (b[4 + j] & 0xF) as f32 * d + m;
                y[j + 16] = (b[4 + j] >> 4) as f32 * d + m;
            }
        }
        WeightFormat::Q5_0 => {
            let d = f16_at(b, 0);
            for (v, q) in y.iter_mut().zip(q5_0_values(b)) {
                *v = q as f32 * d;
            }
        }
        WeightFormat::Q5_1 => {
            let (d, m) = (f16_at(b, 0), f16_at(b, 2));
            let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            for j in 0..16 {
                let h0 = (((qh >> j) << 4) & 0x10) as u8;
                let h1 = ((qh >> (j + 12)) & 0x10) as u8;
                y[j] = ((b[8 + j] & 0xF) | h0) as f32 * d + m;
                y[j + 16] = ((b[8 + j] >> 4) | h1) as f32 * d + m;
            }
        }
        WeightFormat::Q8_0 => {
            let d = f16_at(b, 0);
            for j in 0..32 {
                y[j] = (b[2 + j] as i8) as f32 * d;
            }
        }
        WeightFormat::Q4K => {
            let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
            let scales = &b[4..16];
            let qs = &b[16..144];
            for j in 0..4 {
                let (sc1, m1) = scale_min_k4(2 * j, scales);
                let (sc2, m2) = scale_min_k4(2 * j + 1, scales);
                let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
                let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
                let q = &qs[32 * j..32 * j + 32];
                for l in 0..32 {
                    y[64 * j + l] = d1 * (q[l] & 0xF) as f32 - m1;
                    y[64 * j + 32 + l] = d2 * (q[l] >> 4) as f32 - m2;
                }
            }
        }
        WeightFormat::Q5K => {
            let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
            let scales = &b[4..16];
            let qh = &b[16..48];
            let qs = &b[48..176];
            for j in 0..4 {
                let (sc1, m1) = scale_min_k4(2 * j, scales);
                let (sc2, m2) = scale_min_k4(2 * j + 1, scales);
                let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
                let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
                let (u1, u2) = (1u8 << (2 * j), 2u8 << (2 * j));
                let q = &qs[32 * j..32 * j + 32];
                for l in 0..32 {
                    let h1 = if qh[l] & u1 != 0 { 16.0 } else { 0.0 };
                    let h2 = if qh[l] & u2 != 0 { 16.0 } else { 0.0 };
                    y[64 * j + l] = d1 * ((q[l] & 0xF) as f32 + h1) - m1;
                    y[64 * j + 32 + l] = d2 * ((q[l] >> 4) as f32 + h2) - m2;
                }
            }
        }
        WeightFormat::Q6K => {
            let ql_all = &b[0..128];
            let qh_all = &b[128..192];
            let sc_all = &b[192..208];
            let d = f16_at(b, 208);
            for half in 0..2 {
                let ql = &ql_all[64 * half..64 * half + 64];
                let qh = &qh_all[32 * half..32 * half + 32];
                let sc = &sc_all[8 * half..8 * half + 8];
                let y = &mut y[128 * half..128 * half + 128];
                for l in 0..32 {
                    let is = l / 16;
                    let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
                    let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                    let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                    let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                    y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
                    y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
                    y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
                    y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
                }
            }
        }
    }
}

/// Interleaves Q4_K rows eight at a time. For each group of eight rows and
/// each 256-column block, in order:
/// - `d[8]`, `dmin[8]` (f16, as stored);
/// - the 6-bit sub-block scales as bytes, `[sub-block 0..8][row 0..8]`;
/// - the 6-bit mins as bytes, `[sub-block pair 0..4][row 0..8][2]`, so one
///   16-byte load widens to the (row, two sub-blocks) pairs `madd` wants;
/// - the 4-bit values, `[sub-block 0..8][half 0..4][row 0..8][4 bytes]`:
///   byte `i` holds column `32s + 8h + i` in its low nibble and column
///   `32s + 8h + 4 + i` in its high one. One 32-byte load therefore gives
///   four consecutive columns of all eight rows twice over, which multiply
///   against four activation bytes broadcast to every row.
///
/// Why: the file's layout needs one `madd` with the scale per 32 products
/// per activation row; here the eight rows' products of a whole sub-block
/// add up as 16-bit integers first (at most 8 × 3840 < 2¹⁵), so the
/// multiply units do about half the work, and each activation byte loaded
/// serves eight rows instead of one.
fn interleave_q4k(data: &[u8], rows: usize, blocks: usize) -> Vec<u8> {
    interleave_rows(data, rows, blocks, 144, Q4K_X8_BYTES, |src, r, dst| {
        dst[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
        dst[16 + 2 * r..16 + 2 * r + 2].copy_from_slice(&src[2..4]);
        for sub in 0..8 {
            let (sc, m) = scale_min_k4(sub, &src[4..16]);
            dst[32 + sub * 8 + r] = sc;
            dst[96 + (sub / 2) * 16 + r * 2 + sub % 2] = m;
        }
        for sub in 0..8 {
            // Sub-block `sub` is one nibble plane of 32 bytes.
            let plane = &src[16 + 32 * (sub / 2)..][..32];
            let shift = 4 * (sub % 2);
            for half in 0..4 {
                // Four bytes at a time.
                let lo = (u32_at(plane, 8 * half) >> shift) & 0x0F0F_0F0F;
                let hi = (u32_at(plane, 8 * half + 4) >> shift) & 0x0F0F_0F0F;
                let at = 160 + ((sub * 4 + half) * 8 + r) * 4;
                dst[at..at + 4].copy_from_slice(&(lo | (hi << 4)).to_le_bytes());
            }
        }
    })
}

/// Interleaved Q4_K or Q6_K groups (`data`, blocks of `blocks` per group)
/// two at a time, block by block ([`WeightLayout::Paired16`]): the first
/// group's block up to its quant bytes, the second's, then the two blocks'
/// quant bytes alternating 32 at a time. The 512-bit kernels' two 32-byte
/// loads of one position in both groups become one 64-byte load, and a
/// pass reads each pair front to back. The same size.
///
/// Why: reading the two groups of a pair side by side, 7 KB apart (rows
/// of 1536 columns), kept an AMD EPYC at 11 GB/s a core for one token
/// against 28 GB/s for one group at a time; even with the two groups'
/// blocks alternating it stayed slow, while this order ran as fast as a
/// single group (kernel_bench, BENCHMARKS.md §1) and with more tokens
/// faster than before.
fn pair_groups(data: &[u8], format: WeightFormat, blocks: usize) -> Vec<u8> {
    let bytes = interleaved_block_bytes(format);
    let header = paired_header_bytes(format);
    let mut out = Vec::with_capacity(data.len());
    for pair in data.chunks_exact(2 * blocks * bytes) {
        let (first, second) = pair.split_at(blocks * bytes);
        for (a, b) in first.chunks_exact(bytes).zip(second.chunks_exact(bytes)) {
            out.extend_from_slice(&a[..header]);
            out.extend_from_slice(&b[..header]);
            for (ra, rb) in a[header..]
                .chunks_exact(32)
                .zip(b[header..].chunks_exact(32))
            {
                out.extend_from_slice(ra);
                out.extend_from_slice(rb);
            }
        }
    }
    out
}

/// [`pair_groups`] undone: each pair of groups back as two
/// `Interleaved8` groups, the first group's blocks then the second's.
fn unpair_groups(data: &[u8], format: WeightFormat, blocks: usize) -> Vec<u8> {
    let bytes = interleaved_block_bytes(format);
    let header = paired_header_bytes(format);
    let mut out = vec![0u8; data.len()];
    for (pair, dst) in data
        .chunks_exact(2 * blocks * bytes)
        .zip(out.chunks_exact_mut(2 * blocks * bytes))
    {
        let (first, second) = dst.split_at_mut(blocks * bytes);
        for ((both, a), b) in pair
            .chunks_exact(2 * bytes)
            .zip(first.chunks_exact_mut(bytes))
            .zip(second.chunks_exact_mut(bytes))
        {
            a[..header].copy_from_slice(&both[..header]);
            b[..header].copy_from_slice(&both[header..2 * header]);
            for ((runs, ra), rb) in both[2 * header..]
                .chunks_exact(64)
                .zip(a[header..].chunks_exact_mut(32))
                .zip(b[header..].chunks_exact_mut(32))
            {
                ra.copy_from_slice(&runs[..32]);
                rb.copy_from_slice(&runs[32..]);
            }
        }
    }
    out
}

/// Eight Q8_0 rows interleaved block by block (`BlockQ8_0X8`): the eight
/// scales, then for each run of four columns the eight rows' four bytes.
/// One 32-byte load then holds four columns of all eight rows, and four
/// activation bytes broadcast to all of them feed one `maddubs`; each
/// activation block is read once for eight rows, and the eight rows' sums
/// land in the eight lanes of one register (no horizontal sums). The same
/// size as the file's eight blocks.
fn interleave_q8_0(data: &[u8], rows: usize, blocks: usize) -> Vec<u8> {
    let src_bytes = WeightFormat::Q8_0.block_bytes();
    interleave_rows(
        data,
        rows,
        blocks,
        src_bytes,
        Q8_0_X8_BYTES,
        |src, r, dst| {
            dst[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
            for run in 0..8 {
                let at = 16 + (run * 8 + r) * 4;
                dst[at..at + 4].copy_from_slice(&src[2 + 4 * run..2 + 4 * run + 4]);
            }
        },
    )
}

/// Eight Q5_0 rows interleaved block by block (`BlockQ5_0X8`): the eight
/// scales; four runs of 32 bytes of low nibbles, byte `4r + c` of run `p`
/// holding row `r`'s column `8p + c` (low nibble) and `8p + 4 + c` (high
/// nibble); then per run of four columns `k` a 32-bit mask whose bit
/// `4r + c` is row `r`'s fifth bit of column `4k + c`. The 512-bit kernel
/// splits the nibbles with a shift and two masks and turns a run's fifth
/// bits into bytes with one masked OR. The same size as the file's blocks.
fn interleave_q5_0(data: &[u8], rows: usize, blocks: usize) -> Vec<u8> {
    let src_bytes = WeightFormat::Q5_0.block_bytes();
    interleave_rows(
        data,
        rows,
        blocks,
        src_bytes,
        Q5_0_X8_BYTES,
        |src, r, dst| {
            dst[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
            let q = q5_0_values(src).map(|v| (v + 16) as u8);
            for p in 0..4 {
                for c in 0..4 {
                    let lo = q[8 * p + c] & 0xF;
                    let hi = q[8 * p + 4 + c] & 0xF;
                    dst[16 + 32 * p + 4 * r + c] = lo | (hi << 4);
                }
            }
            for k in 0..8 {
                for c in 0..4 {
                    if q[4 * k + c] & 0x10 != 0 {
                        let bit = 4 * r + c;
                        dst[144 + 4 * k + bit / 8] |= 1 << (bit % 8);
                    }
                }
            }
        },
    )
}

/// Row `r` of one interleaved Q5_0 group block as 32 floats.
fn dequantize_q5_0_x8(x: &[u8], r: usize, y: &mut [f32]) {
    let d = f16_at(x, 2 * r);
    for (e, v) in y.iter_mut().enumerate().take(32) {
        let (p, c) = (e / 8, e % 4);
        let byte = x[16 + 32 * p + 4 * r + c];
        let low = if e % 8 < 4 { byte & 0xF } else { byte >> 4 };
        let bit = 4 * r + c;
        let high = (x[144 + 4 * (e / 4) + bit / 8] >> (bit % 8)) & 1;
        *v = d * ((low | (high << 4)) as i32 - 16) as f32;
    }
}

/// Row `r` of one interleaved Q8_0 group block as 32 floats.
fn dequantize_q8_0_x8(x: &[u8], r: usize, y: &mut [f32]) {
    let d = f16_at(x, 2 * r);
    for (e, v) in y.iter_mut().enumerate().take(32) {
        let q = x[16 + ((e / 4) * 8 + r) * 4 + e % 4] as i8;
        *v = d * q as f32;
    }
}

/// The loop the interleavings share: for each group of eight rows and
/// each block of columns, `pack(src, r, dst)` writes row `r`'s file block
/// `src` (`src_bytes` long) into the group block `dst` (`dst_bytes`).
/// Groups are independent, so they are spread over the cores (loading
/// time).
fn interleave_rows(
    data: &[u8],
    rows: usize,
    blocks: usize,
    src_bytes: usize,
    dst_bytes: usize,
    pack: impl Fn(&[u8], usize, &mut [u8]) + Sync,
) -> Vec<u8> {
    let row_bytes = blocks * src_bytes;
    let mut out = vec![0u8; rows / 8 * blocks * dst_bytes];
    out.par_chunks_exact_mut(blocks * dst_bytes)
        .enumerate()
        .for_each(|(g, group_out)| {
            for (b, dst) in group_out.chunks_exact_mut(dst_bytes).enumerate() {
                for r in 0..8 {
                    let src = &data[(g * 8 + r) * row_bytes + b * src_bytes..][..src_bytes];
                    pack(src, r, dst);
                }
            }
        });
    out
}

/// Row `r` of one interleaved group block as 256 floats.
fn dequantize_q4k_x8(x: &[u8], r: usize, y: &mut [f32]) {
    let d = f16_at(x, 2 * r);
    let dmin = f16_at(x, 16 + 2 * r);
    for (e, v) in y.iter_mut().enumerate().take(QK_K) {
        let (sub, half, i) = (e / 32, (e % 32) / 8, e % 8);
        let byte = x[160 + ((sub * 4 + half) * 8 + r) * 4 + i % 4];
        let q = if i < 4 { byte & 0xF } else { byte >> 4 };
        let sc = x[32 + sub * 8 + r];
        let m = x[96 + (sub / 2) * 16 + r * 2 + sub % 2];
        *v = d * sc as f32 * q as f32 - dmin * m as f32;
    }
}

/// Interleaves Q6_K rows eight at a time. For each group of eight rows and
/// each 256-column block, in order:
/// - `d[8]` (f16, as stored);
/// - the signed 8-bit scales (one per 16 columns), `[sub-block 0..16][row 0..8]`;
/// - for each sub-block `q` of 16 columns, 96 bytes: the low four bits of
///   the 6-bit values as `[half 0..2][row 0..8][4 bytes]` (byte `i` holds
///   column `16q + 8h + i` in its low nibble and `16q + 8h + 4 + i` in its
///   high one), then their top two bits as `[row 0..8][4 bytes]` (bits
///   `2m, 2m+1` of byte `i` belong to column `16q + 4m + i`).
///
/// One sub-block is then three consecutive 32-byte loads for all eight
/// rows, read front to back (a layout that jumped between a low-bit and a
/// high-bit area ran at half the memory speed); the same size as the
/// file's eight blocks.
fn interleave_q6k(data: &[u8], rows: usize, blocks: usize) -> Vec<u8> {
    interleave_rows(data, rows, blocks, 210, Q6K_X8_BYTES, |src, r, dst| {
        dst[2 * r..2 * r + 2].copy_from_slice(&src[208..210]);
        for sub in 0..16 {
            dst[16 + sub * 8 + r] = src[192 + sub];
        }
        let mut q = [0u8; QK_K];
        q6k_values(src, &mut q);
        for quad in 0..16 {
            let at = 144 + 96 * quad;
            // Four columns at a time, one per byte lane.
            let cols: [u32; 4] = std::array::from_fn(|m| u32_at(&q, 16 * quad + 4 * m));
            for half in 0..2 {
                let lo = cols[2 * half] & 0x0F0F_0F0F;
                let hi = cols[2 * half + 1] & 0x0F0F_0F0F;
                let to = at + 32 * half + r * 4;
                dst[to..to + 4].copy_from_slice(&(lo | (hi << 4)).to_le_bytes());
            }
            let bits = (0..4).fold(0u32, |bits, m| {
                bits | (((cols[m] >> 4) & 0x0303_0303) << (2 * m))
            });
            let to = at + 64 + r * 4;
            dst[to..to + 4].copy_from_slice(&bits.to_le_bytes());
        }
    })
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The signed values (−16..16) of a Q5_0 block, in column order: the low
/// four bits from the nibbles, the fifth from `qh`, minus 16.
fn q5_0_values(block: &[u8]) -> [i8; 32] {
    let qh = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
    let mut q = [0i8; 32];
    for j in 0..16 {
        let h0 = (((qh >> j) << 4) & 0x10) as u8;
        let h1 = ((qh >> (j + 12)) & 0x10) as u8;
        q[j] = ((block[6 + j] & 0xF) | h0) as i8 - 16;
        q[j + 16] = ((block[6 + j] >> 4) | h1) as i8 - 16;
    }
    q
}

/// The unsigned 6-bit values (0..64, stored offset by 32) of a Q6_K block,
/// in column order.
fn q6k_values(block: &[u8], q: &mut [u8; QK_K]) {
    for half in 0..2 {
        let ql = &block[64 * half..][..64];
        let qh = &block[128 + 32 * half..][..32];
        let q = &mut q[128 * half..][..128];
        for l in 0..32 {
            q[l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
            q[l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
            q[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
            q[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        }
    }
}

/// Row `r` of one interleaved Q6_K group block as 256 floats.
fn dequantize_q6k_x8(x: &[u8], r: usize, y: &mut [f32]) {
    let d = f16_at(x, 2 * r);
    for (e, v) in y.iter_mut().enumerate().take(QK_K) {
        let (quad, half, i) = (e / 16, (e % 16) / 8, e % 8);
        let at = 144 + 96 * quad;
        let byte = x[at + 32 * half + r * 4 + i % 4];
        let low = if i < 4 { byte & 0xF } else { byte >> 4 };
        let m = (e % 16) / 4;
        let high = (x[at + 64 + r * 4 + e % 4] >> (2 * m)) & 3;
        let q = (low | (high << 4)) as i32 - 32;
        let sc = x[16 + (e / 16) * 8 + r] as i8;
        *v = d * sc as f32 * q as f32;
    }
}

/// The integer encodings of one activation batch, one slot per
/// [`ActFormat`], filled for the formats the next multiplies need.
#[derive(Default)]
pub(crate) struct ActSet {
    slots: [QuantizedActs; 3],
}

impl ActSet {
    fn slot(format: ActFormat) -> usize {
        match format {
            ActFormat::Q8_0 => 0,
            ActFormat::Q8_1 => 1,
            ActFormat::Q8K => 2,
        }
    }

    /// Encodes `x` (rows of `cols`) for every weight in `weights`; forgets
    /// encodings of earlier inputs.
    pub(crate) fn prepare(&mut self, x: &[f32], cols: usize, weights: &[&QWeight]) {
        for slot in &mut self.slots {
            slot.forget();
        }
        for w in weights {
            if let Some(f) = activation_format(w.format) {
                let slot = &mut self.slots[Self::slot(f)];
                if slot.format() != Some(f) {
                    slot.quantize(f, x, cols);
                }
            }
        }
    }

    fn get(&self, format: ActFormat) -> Option<&QuantizedActs> {
        let slot = &self.slots[Self::slot(format)];
        (slot.format() == Some(format)).then_some(slot)
    }
}

/// Activations for one multiply: the f32 rows plus their integer encodings.
pub(crate) struct ActView<'a> {
    pub f32: &'a [f32],
    pub cols: usize,
    pub quantized: &'a ActSet,
}

impl ActView<'_> {
    fn rows(&self) -> usize {
        self.f32.len() / self.cols
    }
}

/// Computes row r, token t of `out` as `weight.row(row_start + r) · act[t]`
/// for `rows` weight rows (`out` starts at this job's first row).
fn matmul_rows(weight: &QWeight, row_start: usize, rows: usize, act: &ActView<'_>, out: OutView) {
    let tokens = act.rows();
    assert!(out.covers(rows, tokens));
    let quantized = weight
        .format
        .kernel_activation_format()
        .filter(|_| crate::kernels::available())
        .and_then(|f| act.quantized.get(f));
    // Token tiles keep the activations of a tile in L2 while the job's
    // weight rows stream through L1.
    const TOKEN_TILE: usize = 32;
    let mut tile_start = 0;
    while tile_start < tokens {
        let tile_end = (tile_start + TOKEN_TILE).min(tokens);
        match quantized {
            Some(q) => {
                let unit_bytes = match weight.layout {
                    WeightLayout::Rows => weight.row_bytes,
                    // A group's bytes spread over its eight rows (a whole
                    // number of bytes for every interleaved format); jobs start and end
                    // on group boundaries.
                    WeightLayout::Interleaved8 | WeightLayout::Paired16 => {
                        weight.cols / weight.format.block_elems()
                            * interleaved_block_bytes(weight.format)
                            / 8
                    }
                };
                crate::kernels::dot_block(
                    weight.format,
                    weight.layout,
                    weight.cols,
                    &weight.data[row_start * unit_bytes..(row_start + rows) * unit_bytes],
                    q,
                    tile_start..tile_end,
                    out.from(0, tile_start),
                );
            }
            None => {
                for r in 0..rows {
                    let w_row = weight.row(row_start + r);
                    let acts = act.f32.chunks_exact(act.cols);
                    for (t, a) in acts.enumerate().take(tile_end).skip(tile_start) {
                        // SAFETY: inside what was checked above; this job's rows.
                        #[allow(unsafe_code)]
                        unsafe {
                            out.write(r, t, dot_scalar(weight.format, w_row, a))
                        };
                    }
                }
            }
        }
        tile_start = tile_end;
    }
}

/// Portable dot product of one quantized row with f32 activations: a block
/// is dequantized to the stack, then multiplied.
pub(crate) fn dot_scalar(format: WeightFormat, w_row: &[u8], x: &[f32]) -> f32 {
    let be = format.block_elems();
    let bb = format.block_bytes();
    let mut buf = [0f32; QK_K];
    let mut sum = 0f32;
    if be == 1 {
        // Plain floats: dequantize 256 at a time.
        for (chunk_w, chunk_x) in w_row.chunks(QK_K * bb).zip(x.chunks(QK_K)) {
            let n = chunk_x.len();
            dequantize_blocks(format, chunk_w, &mut buf[..n]);
            sum += dot_f32(&buf[..n], chunk_x);
        }
        return sum;
    }
    for (block, xs) in w_row.chunks_exact(bb).zip(x.chunks_exact(be)) {
        dequantize_block(format, block, &mut buf[..be]);
        sum += dot_f32(&buf[..be], xs);
    }
    sum
}

/// One multiply of a batched call: `weight` times the activations, written
/// token-major into `out` (`tokens × weight.rows`).
pub(crate) struct MatmulTask<'a> {
    pub weight: &'a QWeight,
    pub act: &'a ActView<'a>,
    pub out: &'a mut [f32],
}

/// Runs several multiplies (e.g. Q, K and V, or gate and up) as one parallel
/// region, split into row ranges so both cores stay busy to the end.
pub(crate) fn matmul_batch(mut tasks: Vec<MatmulTask<'_>>, threads: usize) {
    let total_rows: usize = tasks.iter().map(|t| t.weight.rows).sum();
    // About eight jobs per thread balance well without much scheduling cost;
    // a job is a multiple of 16 rows (a pair of interleaved groups, the
    // 512-bit kernels' unit) and never tiny.
    let target_jobs = (threads * 8).max(1);
    let rows_per_job = (total_rows / target_jobs)
        .clamp(16, 1024)
        .next_multiple_of(16);
    let mut jobs: Vec<(&QWeight, usize, usize, &ActView<'_>, OutView)> = Vec::new();
    for task in tasks.iter_mut() {
        let tokens = task.act.rows();
        let rows = task.weight.rows;
        if tokens == 0 {
            continue;
        }
        assert_eq!(task.out.len(), rows * tokens);
        // SAFETY: `tasks` holds the buffer's only borrow until the jobs
        // are done below, and each job writes only its own rows.
        #[allow(unsafe_code)]
        let view = unsafe { OutView::new(task.out, rows) };
        for start in (0..rows).step_by(rows_per_job) {
            let n = rows_per_job.min(rows - start);
            jobs.push((task.weight, start, n, task.act, view.from(start, 0)));
        }
    }
    jobs.into_par_iter()
        .with_max_len(1)
        .for_each(|(w, start, rows, act, out)| matmul_rows(w, start, rows, act, out));
    drop(tasks);
}

/// `x` (token-major rows of `weight.cols`) times `weight`, token-major:
/// the executor's multiply on its own, for kernel benchmarks and tests.
/// Runs on the calling rayon pool.
pub fn multiply(weight: &QWeight, x: &[f32]) -> Vec<f32> {
    let cols = weight.cols;
    let tokens = x.len() / cols;
    let mut acts = ActSet::default();
    acts.prepare(x, cols, &[weight]);
    let view = ActView {
        f32: x,
        cols,
        quantized: &acts,
    };
    let mut out = vec![0f32; weight.rows * tokens];
    matmul_batch(
        vec![MatmulTask {
            weight,
            act: &view,
            out: &mut out,
        }],
        rayon::current_num_threads(),
    );
    out
}

/// The fewest tokens a pass pairs groups for where single groups were
/// faster for one token: on the AMD EPYC measured, single groups also won
/// at two and three tokens on 1536-column matrices, pairs from four (and
/// from two on 8960-column ones).
pub const PAIRS_FROM_WHEN_SINGLES_WIN: usize = 4;

/// Where `weight` (the output matrix, read from memory on every pass) is
/// in the 16-row layout: times one-token multiplies of it against the same
/// matrix in groups of eight (pairs of groups, and single groups),
/// alternating, best of five rounds after a warm-up, and returns whether
/// the 16-row layout should stay: it does unless a groups-of-eight form is
/// more than a tenth faster (the 16-row layout also checks guessed words
/// faster, which a matrix read from memory cannot show: at six tokens the
/// three forms of this matrix took the same time). When a groups-of-eight
/// form wins, [`pair_groups_from`] is set to its setting; otherwise it is
/// left as it was. `None` (nothing timed) where the question does not
/// arise. The 16-row layout was chosen on an AMD EPYC, where it reads
/// memory as fast as single groups and 1.6x faster than pairs; on an Intel
/// Xeon (Sapphire Rapids) the 1.5B target's output matrix took 6.9 ms in
/// pairs of groups against 9.6 ms in 16 rows, and the target decoded 0.80x
/// as fast in 16 rows (BENCHMARKS.md, section 2, session 25). Runs on the
/// calling rayon pool, once per process.
pub fn choose_layout(weight: &QWeight) -> Option<bool> {
    if weight.layout != WeightLayout::Paired16 || !wide_vnni() || byte_dot() != ByteDot::Vnni {
        return None;
    }
    let mut eight = QWeight {
        data: weight.data.clone(),
        ..*weight
    };
    eight.unpair_in_place();
    let before = pairs_groups_from();
    // 16 rows, eight in pairs, eight singly.
    let best = fastest_one_token(
        [
            (weight, before),
            (&eight, 1),
            (&eight, PAIRS_FROM_WHEN_SINGLES_WIN),
        ],
        6,
    );
    let (from, fastest_eight) = if best[1] <= best[2] {
        (1, best[1])
    } else {
        (PAIRS_FROM_WHEN_SINGLES_WIN, best[2])
    };
    let sixteen_stays = fastest_eight >= 0.9 * best[0];
    pair_groups_from(if sixteen_stays { before } else { from });
    Some(sixteen_stays)
}

/// The fastest one-token multiply, in seconds, of each `(matrix, pairs of
/// groups from this many tokens)`, over `rounds` rounds that take them in
/// turn, the first round a warm-up (a shared machine's noise only ever adds
/// time). Leaves [`pair_groups_from`] at the last one's setting.
fn fastest_one_token<const N: usize>(
    candidates: [(&QWeight, usize); N],
    rounds: usize,
) -> [f64; N] {
    let cols = candidates[0].0.cols;
    let x: Vec<f32> = (0..cols)
        .map(|i| ((i * 7919) % 201) as f32 / 100.0 - 1.0)
        .collect();
    let mut best = [f64::INFINITY; N];
    for round in 0..rounds {
        for (i, &(w, from)) in candidates.iter().enumerate() {
            pair_groups_from(from);
            let started = std::time::Instant::now();
            std::hint::black_box(multiply(w, &x));
            if round > 0 {
                best[i] = best[i].min(started.elapsed().as_secs_f64());
            }
        }
    }
    best
}

/// Times one-token multiplies of `weight` (a matrix the model multiplies
/// for every token, too large for the caches) with the 512-bit kernels taking two groups of rows at
/// a time and one at a time, alternating, best of several, and sets
/// [`pair_groups_from`] to the faster: 1 when pairs win, else
/// [`PAIRS_FROM_WHEN_SINGLES_WIN`]. Returns the setting, or `None` (and
/// changes nothing) where the choice does not arise: no 512-bit VNNI
/// kernels, VNNI switched off, or a matrix only one way reads. Runs on the
/// calling rayon pool; about 0.1 s for the 1.5B target's output matrix.
pub fn choose_pairing(weight: &QWeight) -> Option<usize> {
    let pairable = matches!(
        weight.format,
        WeightFormat::Q4K | WeightFormat::Q6K | WeightFormat::Q8_0 | WeightFormat::Q5_0
    ) && weight.layout == WeightLayout::Interleaved8
        && weight.rows.is_multiple_of(16);
    if !pairable || !wide_vnni() || byte_dot() != ByteDot::Vnni {
        return None;
    }
    // [pairs, single groups]: the fastest of seven alternating rounds
    // after a warm-up.
    let best = fastest_one_token([(weight, 1), (weight, PAIRS_FROM_WHEN_SINGLES_WIN)], 8);
    let chosen = if best[1] < best[0] {
        PAIRS_FROM_WHEN_SINGLES_WIN
    } else {
        1
    };
    pair_groups_from(chosen);
    Some(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Module, Tensor};

    const FORMATS: [GgmlDType; 8] = [
        GgmlDType::Q4K,
        GgmlDType::Q5K,
        GgmlDType::Q6K,
        GgmlDType::Q8_0,
        GgmlDType::Q4_0,
        GgmlDType::Q4_1,
        GgmlDType::Q5_0,
        GgmlDType::Q5_1,
    ];

    /// Deterministic pseudo-random values in about [-1, 1].
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::sampling::Rng::new(seed);
        (0..n)
            .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
            .collect()
    }

    fn weight(dtype: GgmlDType, rows: usize, cols: usize) -> (QTensor, QWeight) {
        let w = Tensor::from_vec(values(rows * cols, 1), (rows, cols), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let bytes = q.data().unwrap().to_vec();
        let fmt = WeightFormat::from_ggml(dtype).unwrap();
        (q, QWeight::new(fmt, rows, cols, bytes).unwrap())
    }

    #[test]
    fn sixteen_rows_undone_give_back_the_groups_of_eight() {
        for dtype in [GgmlDType::Q4K, GgmlDType::Q6K] {
            let (_, w) = weight(dtype, 32, 512);
            let blocks = 512 / QK_K;
            let eight = match w.format {
                WeightFormat::Q4K => interleave_q4k(&w.data, 32, blocks),
                _ => interleave_q6k(&w.data, 32, blocks),
            };
            let sixteen = pair_groups(&eight, w.format, blocks);
            assert_eq!(sixteen.len(), eight.len());
            assert_ne!(sixteen, eight, "{dtype:?}");
            assert_eq!(
                unpair_groups(&sixteen, w.format, blocks),
                eight,
                "{dtype:?}"
            );
        }
    }

    /// Each format in the file's layout, then (where it differs) in the
    /// layout the multiply prefers, and in groups of eight where that is
    /// a third.
    fn both_layouts(dtype: GgmlDType, rows: usize, cols: usize) -> Vec<(QTensor, QWeight)> {
        let mut out = vec![weight(dtype, rows, cols)];
        let (q, w) = weight(dtype, rows, cols);
        let w = w.for_multiply();
        if w.layout() != WeightLayout::Rows || w.format() != WeightFormat::from_ggml(dtype).unwrap()
        {
            out.push((q, w));
        }
        let (q, w) = weight(dtype, rows, cols);
        let w = w.in_groups_of_eight();
        if out.iter().all(|(_, o)| o.layout() != w.layout()) {
            out.push((q, w));
        }
        out
    }

    #[test]
    fn q5_0_is_widened_to_q8_0_with_the_same_values_and_products() {
        // 24 rows: not whole pairs of groups, so widened on every CPU.
        let (_, file) = weight(GgmlDType::Q5_0, 24, 512);
        let (_, widened) = weight(GgmlDType::Q5_0, 24, 512);
        let widened = widened.for_multiply();
        if !crate::kernels::available() {
            assert_eq!(widened.format(), WeightFormat::Q5_0);
            return;
        }
        assert_eq!(widened.format(), WeightFormat::Q8_0);
        assert_eq!(widened.size_in_bytes(), file.size_in_bytes() / 22 * 34);
        assert_eq!(widened.layout(), WeightLayout::Interleaved8);
        assert_eq!(widened.dequantize_all(), file.dequantize_all());
        // The same integer products with the same scales (the widened rows
        // are also interleaved, so only the order of float sums differs).
        let x = values(3 * 512, 2);
        for (a, b) in multiply(&widened, &x, 512)
            .iter()
            .zip(multiply(&file, &x, 512))
        {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn q5_0_keeps_its_size_where_the_512_bit_kernel_runs_with_the_widened_bits() {
        let (rows, cols) = (48, 512);
        let (_, file) = weight(GgmlDType::Q5_0, rows, cols);
        let (_, w) = weight(GgmlDType::Q5_0, rows, cols);
        let compact = w.for_multiply();
        if !crate::kernels::wide_vnni() {
            assert_ne!(compact.format(), WeightFormat::Q5_0);
            eprintln!("this CPU has no AVX-512 VNNI: Q5_0 is widened");
            return;
        }
        assert_eq!(compact.format(), WeightFormat::Q5_0);
        assert_eq!(compact.layout(), WeightLayout::Interleaved8);
        assert_eq!(compact.size_in_bytes(), file.size_in_bytes());
        assert_eq!(compact.dequantize_all(), file.dequantize_all());
        let (_, w) = weight(GgmlDType::Q5_0, rows, cols);
        let widened = w.widened_to_q8_0().interleaved();
        assert_eq!(widened.format(), WeightFormat::Q8_0);
        for tokens in [1, 2, 7, 8, 9] {
            let x: Vec<f32> = values(tokens * cols, 11 + tokens as u64)
                .iter()
                .enumerate()
                .map(|(i, v)| if i % 7 == 0 { v * 30.0 } else { *v })
                .collect();
            let expected = multiply(&widened, &x, cols);
            // Pairs of groups and single groups (the small passes' kernel).
            let _settings = KERNEL_SETTINGS.lock().unwrap_or_else(|e| e.into_inner());
            for from in [1, usize::MAX] {
                pair_groups_from(from);
                let got = multiply(&compact, &x, cols);
                assert_eq!(got, expected, "{tokens} tokens, pairs from {from}");
            }
            pair_groups_from(1);
        }
    }

    /// Held by the tests that change the process-wide kernel settings, so
    /// that one's switch does not land inside the other's measurement.
    static KERNEL_SETTINGS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn vnni_kernels_give_the_avx2_kernels_bits() {
        let _settings = KERNEL_SETTINGS.lock().unwrap_or_else(|e| e.into_inner());
        let cols = 512;
        // 1, 2, 3, 4, 7, 8 and 9 tokens: every 256-bit kernel width, the
        // 512-bit kernels' widths up to eight, and a split pass for each.
        let mut checked = 0;
        // 24 rows: an odd number of groups; 32 rows: Q4_K and Q6_K in the
        // 16-row layout where the CPU has it.
        for (dtype, rows) in [
            (GgmlDType::Q4K, 24),
            (GgmlDType::Q6K, 24),
            (GgmlDType::Q8_0, 24),
            (GgmlDType::Q5_0, 24),
            (GgmlDType::Q4K, 32),
            (GgmlDType::Q6K, 32),
        ] {
            // The AVX2 kernels read only groups of eight.
            let (_, w8) = weight(dtype, rows, cols);
            let w8 = w8.in_groups_of_eight();
            let (_, w) = weight(dtype, rows, cols);
            let w = w.for_multiply();
            if rows == 32 && crate::kernels::wide_vnni() {
                assert_eq!(w.layout(), WeightLayout::Paired16);
            }
            let w8 = if w8.layout() == WeightLayout::Rows {
                &w
            } else {
                &w8
            };
            for tokens in [1, 2, 3, 4, 7, 8, 9] {
                // Large inputs too, so the 8-bit activations reach ±127.
                let x: Vec<f32> = values(tokens * cols, 3 + tokens as u64)
                    .iter()
                    .enumerate()
                    .map(|(i, v)| if i % 5 == 0 { v * 40.0 } else { *v })
                    .collect();
                allow_vnni(false);
                assert_eq!(byte_dot(), ByteDot::Avx2);
                let avx2 = multiply(w8, &x, cols);
                allow_vnni(true);
                // The 512-bit kernels with pairs of groups, and with one
                // group at a time.
                for from in [1, usize::MAX] {
                    pair_groups_from(from);
                    let vnni = multiply(&w, &x, cols);
                    assert_eq!(avx2, vnni, "{dtype:?}, {tokens} tokens, pairs from {from}");
                }
                pair_groups_from(1);
                // The 256-bit AVX-VNNI encoding too, where the CPU has it.
                let relaxed = std::sync::atomic::Ordering::Relaxed;
                crate::kernels::PREFER_AVX_VNNI.store(true, relaxed);
                let avx_vnni = multiply(&w, &x, cols);
                crate::kernels::PREFER_AVX_VNNI.store(false, relaxed);
                assert_eq!(avx2, avx_vnni, "{dtype:?}, {tokens} tokens, AVX-VNNI");
                checked += 1;
            }
        }
        assert_eq!(checked, 42);
        if byte_dot() != ByteDot::Vnni {
            eprintln!("this CPU has no VNNI: only the AVX2 kernels ran");
        }
    }

    #[test]
    fn pairing_is_chosen_only_where_both_ways_read_the_matrix() {
        let _settings = KERNEL_SETTINGS.lock().unwrap_or_else(|e| e.into_inner());
        // A matrix in the file's rows, a format without interleaved rows,
        // a row count that is not whole pairs of groups and the 16-row
        // layout (one way only) never pose the question.
        for (dtype, rows, cols, rearranged) in [
            (GgmlDType::Q4K, 64, 512, false),
            (GgmlDType::Q4_0, 64, 512, true),
            (GgmlDType::Q8_0, 24, 512, true),
            (GgmlDType::Q4K, 256, 1536, true),
        ] {
            let (_, w) = weight(dtype, rows, cols);
            let w = if rearranged { w.for_multiply() } else { w };
            assert_eq!(choose_pairing(&w), None, "{dtype:?} {rows}x{cols}");
        }
        let (_, w) = weight(GgmlDType::Q8_0, 256, 1536);
        let chosen = choose_pairing(&w.for_multiply());
        if crate::kernels::wide_vnni() && byte_dot() == ByteDot::Vnni {
            let from = chosen.expect("this CPU has both ways");
            assert!(from == 1 || from == PAIRS_FROM_WHEN_SINGLES_WIN, "{from}");
        } else {
            assert_eq!(chosen, None);
            eprintln!("this CPU has no 512-bit VNNI kernels: no pairing to choose");
        }
        pair_groups_from(1);
    }

    #[test]
    fn the_vnni_peak_is_measured_only_where_the_512_bit_kernels_run() {
        let peak = vnni_peak_macs(120_000);
        assert_eq!(peak.is_some(), wide_vnni());
        if let Some(p) = peak {
            // Any CPU with these instructions does billions a second.
            assert!(p.is_finite() && p > 1e9, "{p}");
        }
    }

    #[test]
    fn matrices_are_interleaved_where_the_kernels_run() {
        let (_, w) = weight(GgmlDType::Q4K, 16, 512);
        let expected = if crate::kernels::available() {
            WeightLayout::Interleaved8
        } else {
            WeightLayout::Rows
        };
        // Q4_K and Q6_K in whole pairs of groups: 16 rows a load where the
        // CPU has the 512-bit kernels; same size.
        let paired = if crate::kernels::wide_vnni() {
            WeightLayout::Paired16
        } else {
            expected
        };
        let size = w.size_in_bytes();
        let w = w.for_multiply();
        assert_eq!(w.layout(), paired);
        assert_eq!(w.size_in_bytes(), size / 144 * Q4K_X8_BYTES / 8);
        let (_, w) = weight(GgmlDType::Q6K, 16, 512);
        assert_eq!(w.for_multiply().layout(), paired);
        // An odd number of groups stays in groups of eight.
        let (_, w) = weight(GgmlDType::Q4K, 24, 512);
        assert_eq!(w.for_multiply().layout(), expected);
        let (_, w) = weight(GgmlDType::Q8_0, 16, 512);
        assert_eq!(w.for_multiply().layout(), expected);
        let (_, w) = weight(GgmlDType::Q4_0, 16, 512);
        assert_eq!(w.for_multiply().layout(), WeightLayout::Rows);
        // Not a whole number of groups: left alone.
        let (_, w) = weight(GgmlDType::Q4K, 12, 512);
        assert_eq!(w.for_multiply().layout(), WeightLayout::Rows);
    }

    fn multiply(w: &QWeight, x: &[f32], _cols: usize) -> Vec<f32> {
        super::multiply(w, x)
    }

    #[test]
    fn dequantization_matches_candle() {
        for (dtype, (q, w)) in FORMATS
            .into_iter()
            .flat_map(|d| both_layouts(d, 16, 512).into_iter().map(move |p| (d, p)))
        {
            let expected = q
                .dequantize(&Device::Cpu)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let got = w.dequantize_all();
            for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                    "{dtype:?} [{i}]: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn multiplies_match_candle_and_batching_changes_nothing() {
        // 48 rows: whole pairs of groups (the 16-row layout where the
        // CPU has it) and whole groups.
        let (rows, cols, tokens) = (48, 512, 7);
        let x = values(tokens * cols, 2);
        for (dtype, (q, w)) in FORMATS
            .into_iter()
            .flat_map(|d| both_layouts(d, rows, cols).into_iter().map(move |p| (d, p)))
        {
            let ours = multiply(&w, &x, cols);
            // candle's own quantized multiply of the same bytes.
            let xt = Tensor::from_vec(x.clone(), (tokens, cols), &Device::Cpu).unwrap();
            let theirs = candle_core::quantized::QMatMul::from_qtensor(q)
                .unwrap()
                .forward(&xt)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            // Exact products of the stored weights with the f32 inputs.
            let deq = w.dequantize_all();
            let exact: Vec<f32> = (0..tokens)
                .flat_map(|t| {
                    let xs = &x[t * cols..(t + 1) * cols];
                    deq.chunks_exact(cols)
                        .map(|row| {
                            row.iter()
                                .zip(xs)
                                .map(|(a, b)| *a as f64 * *b as f64)
                                .sum::<f64>() as f32
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            for i in 0..ours.len() {
                let (a, b, e) = (ours[i], theirs[i], exact[i]);
                match activation_format(w.format) {
                    // Same integer math as candle; only float order differs.
                    Some(_) => assert!(
                        (a - b).abs() <= 2e-4 * b.abs().max(1.0),
                        "{dtype:?} {:?} [{i}]: {a} vs {b}",
                        w.layout()
                    ),
                    // f32 activations: as exact as f32 sums get.
                    None => assert!(
                        (a - e).abs() <= 1e-4 * e.abs().max(1.0),
                        "{dtype:?} [{i}]: {a} vs {e}"
                    ),
                }
                // 8-bit activations: rounding noise of about 0.03 here.
                assert!(
                    (a - e).abs() <= 0.01 * (cols as f32).sqrt(),
                    "{dtype:?} [{i}]: {a} vs exact {e}"
                );
            }
            // Token by token: identical bits.
            for t in 0..tokens {
                let alone = multiply(&w, &x[t * cols..(t + 1) * cols], cols);
                assert_eq!(
                    alone[..],
                    ours[t * rows..(t + 1) * rows],
                    "{dtype:?} token {t}"
                );
            }
        }
    }
}
