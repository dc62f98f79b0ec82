//! AVX2 dot-product kernels for quantized weight rows against several
//! activation rows at once.
//!
//! Why our own kernels rather than candle's `vec_dot`: candle multiplies one
//! activation row at a time, so a batch of T tokens unpacks every weight
//! block T times; here a block is unpacked once and used for up to four
//! activation rows. Each row's arithmetic is the same whether it is computed
//! alone or with others (integer sums are exact and the float steps run in
//! the same order), so batched and unbatched passes give identical bits.
//! The math follows ggml's AVX2 kernels (as ported in candle-core's `avx.rs`).
//! Where the CPU has VNNI (`vpdpbusd`), the interleaved kernels use it for
//! the byte products: the same integer sums in fewer instructions, so the
//! same bits ([`allow_vnni`] switches it off for comparisons).
#![allow(unsafe_code)]

use crate::format::{interleaved_block_bytes, QuantizedActs, WeightFormat, WeightLayout};

/// Whether this CPU runs the kernels (AVX2, FMA and F16C: x86-64-v3).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The instruction the interleaved kernels multiply bytes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteDot {
    /// AVX2 `maddubs` + `madd` (every x86-64-v3 CPU).
    Avx2,
    /// `vpdpbusd`, four byte products added into a 32-bit lane in one
    /// instruction: AVX-512 VNNI (Ice Lake, Sapphire Rapids, Zen 4 and
    /// later) or AVX-VNNI (Alder Lake and later).
    Vnni,
}

/// Whether the VNNI kernels may be used (benchmarks switch them off to
/// compare in one run); they are used only where the CPU has them.
static VNNI_ALLOWED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Allows or forbids the VNNI kernels (for same-run comparisons); the
/// results are the same bits either way.
pub fn allow_vnni(allowed: bool) {
    VNNI_ALLOWED.store(allowed, std::sync::atomic::Ordering::Relaxed);
}

/// The fewest tokens in a pass for which the 512-bit kernels take two
/// `Interleaved8` groups of rows at a time; smaller passes take one group
/// at a time with `vpdpbusd` on 256-bit registers. Pairing pays for many
/// tokens (the weights are unpacked once for 16 rows); for one token on an
/// AMD EPYC pairs were 1.6-1.7x slower than single groups on the 1.5B
/// target's 1536-column matrices read from memory — reading two groups
/// side by side kept the memory stream at half speed (BENCHMARKS.md), which
/// the 16-row layout ([`WeightLayout::Paired16`], Q4_K and Q6_K) avoids.
/// For the formats still in groups of eight (Q8_0, Q5_0: the 0.5B helper)
/// [`crate::quant::choose_pairing`] measures it when a model loads. Until
/// then: pairs for every pass, as before it existed.
static PAIR_FROM_TOKENS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// Sets the fewest tokens in a pass that the 512-bit kernels pair groups
/// for (1: always; `usize::MAX`: never). The results are the same bits
/// either way.
pub fn pair_groups_from(tokens: usize) {
    PAIR_FROM_TOKENS.store(tokens.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// The fewest tokens in a pass that the 512-bit kernels pair groups for.
pub fn pairs_groups_from() -> usize {
    PAIR_FROM_TOKENS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether [`crate::quant::QWeight::for_multiply`] may choose the 16-row
/// layout ([`WeightLayout::Paired16`]) where the CPU has the 512-bit
/// kernels (benchmarks switch it off before loading a model to compare
/// with groups of eight in one run).
static PAIRED_LAYOUT_ALLOWED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(true);

/// Allows or forbids the 16-row layout for matrices rearranged from now
/// on; the results are the same bits either way.
pub fn allow_paired_layout(allowed: bool) {
    PAIRED_LAYOUT_ALLOWED.store(allowed, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`crate::Executor::load`] may measure, on the first model whose
/// output matrix is in the 16-row layout, if groups of eight read faster on
/// this CPU, and then load every model in groups of eight
/// ([`crate::quant::choose_layout`]); benchmarks switch it off to time both
/// layouts side by side.
static MEASURE_LAYOUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// What that measurement found: 0 not measured, 1 the 16-row layout was
/// faster, 2 groups of eight were.
static SIXTEEN_MEASURED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Allows or forbids models loaded from now on to follow the layout
/// measurement (on by default); the results are the same bits either way.
pub fn measure_paired_layout(allowed: bool) {
    MEASURE_LAYOUT.store(allowed, std::sync::atomic::Ordering::Relaxed);
}

/// Whether a load may follow (or make) the layout measurement.
pub(crate) fn layout_measurement_allowed() -> bool {
    MEASURE_LAYOUT.load(std::sync::atomic::Ordering::Relaxed) && paired_layout()
}

/// Records the layout measurement; the first one stands.
pub(crate) fn record_layout_measurement(sixteen_faster: bool) {
    let _ = SIXTEEN_MEASURED.compare_exchange(
        0,
        if sixteen_faster { 1 } else { 2 },
        std::sync::atomic::Ordering::Relaxed,
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// The layout measurement: `None` before it was made.
pub(crate) fn sixteen_rows_faster() -> Option<bool> {
    match SIXTEEN_MEASURED.load(std::sync::atomic::Ordering::Relaxed) {
        1 => Some(true),
        2 => Some(false),
        _ => None,
    }
}

/// Whether matrices rearranged now may take the 16-row layout: allowed
/// and the CPU has the 512-bit VNNI kernels.
pub(crate) fn paired_layout() -> bool {
    PAIRED_LAYOUT_ALLOWED.load(std::sync::atomic::Ordering::Relaxed) && wide_vnni()
}

/// Tests only: the 256-bit AVX-VNNI kernels even where AVX-512 VNNI is
/// there (the kernels an Alder Lake office PC runs, otherwise unreachable
/// on a CPU that has both).
#[cfg(test)]
pub(crate) static PREFER_AVX_VNNI: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Whether the CPU has the 512-bit VNNI kernels (AVX-512 F, BW, VL and
/// VNNI), whatever [`allow_vnni`] says: Q5_0 is kept in a layout only they
/// read, and only they pair row groups ([`pair_groups_from`]).
pub fn wide_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            return matches!(x86::vnni(), Some(x86::Vnni::Avx512));
        }
    }
    false
}

/// This core's peak rate of byte multiply-adds with the 512-bit VNNI
/// instruction the kernels are built on (`vpdpbusd`, 64 a time), in
/// multiply-adds per second, measured over `ops` instructions in twelve
/// independent chains and nothing else: the ceiling a kernel's GMAC/s is
/// read against in the benches (the quantized kernels also unpack, scale
/// and load). `None` where the CPU lacks the 512-bit VNNI kernels.
pub fn vnni_peak_macs(ops: usize) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        if wide_vnni() {
            let rounds = ops.div_ceil(12).max(1);
            let started = std::time::Instant::now();
            // SAFETY: wide_vnni() checked AVX-512 F, BW, VL and VNNI.
            std::hint::black_box(unsafe { x86::zmm::dpbusd_chains(rounds) });
            let seconds = started.elapsed().as_secs_f64();
            return Some((rounds * 12 * 64) as f64 / seconds.max(1e-9));
        }
    }
    let _ = ops;
    None
}

/// The kernels multiplies run on now, in words for benchmark tables:
/// "AVX-512 VNNI (Q4_K/Q6_K 16 rows a load; other formats pairs of row
/// groups from 4 tokens)", "AVX-VNNI", "AVX2",
/// or "portable" (no AVX2/FMA).
pub fn kernels_in_use() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            return match (byte_dot(), x86::vnni()) {
                (ByteDot::Vnni, Some(x86::Vnni::Avx512)) => format!(
                    "AVX-512 VNNI ({}; other formats pairs of row groups from {} tokens)",
                    if layout_measurement_allowed() && sixteen_rows_faster() == Some(false) {
                        "Q4_K/Q6_K in groups of eight, measured faster than 16 rows"
                    } else if paired_layout() {
                        "Q4_K/Q6_K 16 rows a load"
                    } else {
                        "Q4_K/Q6_K in groups of eight"
                    },
                    pairs_groups_from()
                ),
                (ByteDot::Vnni, Some(x86::Vnni::Avx)) => "AVX-VNNI".into(),
                _ => "AVX2".into(),
            };
        }
    }
    "portable".into()
}

/// The byte dot product the interleaved kernels use now.
pub fn byte_dot() -> ByteDot {
    #[cfg(target_arch = "x86_64")]
    {
        if VNNI_ALLOWED.load(std::sync::atomic::Ordering::Relaxed) && x86::vnni().is_some() {
            return ByteDot::Vnni;
        }
    }
    ByteDot::Avx2
}

/// Where a multiply's results go, token-major: the value of row r and
/// token t at `r + t * token_stride` from the view's start, so a kernel
/// stores a token's 8 or 16 rows at once. The parallel jobs of one multiply
/// write disjoint rows of the same buffer through views on it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutView {
    ptr: *mut f32,
    len: usize,
    token_stride: usize,
}

// SAFETY: a view is a window on a buffer whose creator (see `OutView::new`)
// gives each thread rows no other thread writes.
unsafe impl Send for OutView {}
// SAFETY: as above.
unsafe impl Sync for OutView {}

impl OutView {
    /// A view on `buf`, whose tokens' rows start `token_stride` apart.
    ///
    /// # Safety
    /// `buf` outlives every use of the view and its copies, nothing else
    /// reads or writes it meanwhile, and copies used at the same time write
    /// disjoint values.
    pub(crate) unsafe fn new(buf: &mut [f32], token_stride: usize) -> Self {
        Self {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
            token_stride,
        }
    }

    /// The same buffer from row `r` and token `t` on.
    pub(crate) fn from(self, r: usize, t: usize) -> Self {
        let skip = r + t * self.token_stride;
        assert!(skip <= self.len, "a view past its buffer");
        Self {
            ptr: self.ptr.wrapping_add(skip),
            len: self.len - skip,
            ..self
        }
    }

    /// Whether rows `0..rows` of tokens `0..tokens` lie inside the buffer.
    pub(crate) fn covers(&self, rows: usize, tokens: usize) -> bool {
        rows == 0 || tokens == 0 || (rows - 1) + (tokens - 1) * self.token_stride < self.len
    }

    /// Stores `v` at row `r`, token `t`.
    ///
    /// # Safety
    /// Inside what [`OutView::covers`] checked, and no other thread writes
    /// that value.
    #[inline(always)]
    pub(crate) unsafe fn write(&self, r: usize, t: usize, v: f32) {
        *self.ptr.add(r + t * self.token_stride) = v;
    }

    /// Stores `vs` at rows `r..r + vs.len()` of token `t`, side by side.
    ///
    /// # Safety
    /// As [`OutView::write`], for each of those rows.
    #[inline(always)]
    pub(crate) unsafe fn write_rows(&self, r: usize, t: usize, vs: &[f32]) {
        let at = self.ptr.add(r + t * self.token_stride);
        std::ptr::copy_nonoverlapping(vs.as_ptr(), at, vs.len());
    }
}

/// For weight rows `w_rows` (whole rows back to back, or whole interleaved
/// groups of eight for [`WeightLayout::Interleaved8`]) and activation rows
/// `acts[tokens]`: row r, token `t - tokens.start` of `out` is
/// `w_row(r) · act(t)`.
///
/// Callers reach this only when [`available`] is true and `acts` is in the
/// weight format's activation encoding.
pub(crate) fn dot_block(
    format: WeightFormat,
    layout: WeightLayout,
    cols: usize,
    w_rows: &[u8],
    acts: &QuantizedActs,
    tokens: std::ops::Range<usize>,
    out: OutView,
) {
    #[cfg(target_arch = "x86_64")]
    {
        x86::dot_block(format, layout, cols, w_rows, acts, tokens, out)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (format, layout, cols, w_rows, acts, tokens, out);
        unreachable!("kernels::available() is false off x86_64")
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    pub(super) fn dot_block(
        format: WeightFormat,
        layout: WeightLayout,
        cols: usize,
        w_rows: &[u8],
        acts: &QuantizedActs,
        tokens: std::ops::Range<usize>,
        out: OutView,
    ) {
        let Some(act_format) = acts.format() else {
            return;
        };
        // The kernels read raw memory: check every length they will touch.
        assert!(available());
        assert_eq!(format.kernel_activation_format(), Some(act_format));
        let blocks = cols / format.block_elems();
        // Bytes of one row, or of one group of eight interleaved rows.
        let (unit_bytes, unit_rows) = match layout {
            WeightLayout::Rows => (blocks * format.block_bytes(), 1),
            WeightLayout::Interleaved8 => (blocks * interleaved_block_bytes(format), 8),
            WeightLayout::Paired16 => (2 * blocks * interleaved_block_bytes(format), 16),
        };
        assert!(unit_bytes > 0 && w_rows.len().is_multiple_of(unit_bytes));
        let rows = w_rows.len() / unit_bytes * unit_rows;
        let act_bytes = cols / act_format.block_elems() * act_format.block_bytes();
        assert!(tokens.end <= acts.rows());
        for t in tokens.clone() {
            assert_eq!(acts.row(t).len(), act_bytes);
        }
        assert!(out.covers(rows, tokens.len()));
        match layout {
            WeightLayout::Rows => rows_kernel(format, blocks, w_rows, rows, acts, tokens, out),
            WeightLayout::Paired16 => {
                // Only the 512-bit kernels read this layout (whatever
                // `allow_vnni` says); `QWeight::for_multiply` chooses it
                // only where the CPU has them.
                assert!(matches!(format, WeightFormat::Q4K | WeightFormat::Q6K) && wide_vnni());
                for (p, pair) in w_rows.chunks_exact(unit_bytes).enumerate() {
                    pair_of_groups(
                        format,
                        true,
                        blocks,
                        pair,
                        0,
                        acts,
                        tokens.clone(),
                        out.from(p * 16, 0),
                    );
                }
            }
            WeightLayout::Interleaved8 => {
                assert!(
                    matches!(
                        format,
                        WeightFormat::Q4K | WeightFormat::Q6K | WeightFormat::Q8_0
                    ) || (format == WeightFormat::Q5_0 && wide_vnni())
                );
                groups_kernel(format, blocks, w_rows, unit_bytes, acts, tokens, out)
            }
        }
    }

    /// [`dot_block`] for rows in the file's layout; lengths checked there.
    #[allow(clippy::too_many_arguments)]
    fn rows_kernel(
        format: WeightFormat,
        blocks: usize,
        w_rows: &[u8],
        rows: usize,
        acts: &QuantizedActs,
        tokens: std::ops::Range<usize>,
        out: OutView,
    ) {
        let row_bytes = blocks * format.block_bytes();
        // Up to 32 tokens per call (the caller's tile), no allocation.
        let mut ptrs = [std::ptr::null::<u8>(); 32];
        for chunk_start in (tokens.start..tokens.end).step_by(32) {
            let chunk_end = (chunk_start + 32).min(tokens.end);
            for (p, t) in ptrs.iter_mut().zip(chunk_start..chunk_end) {
                *p = acts.row(t).as_ptr();
            }
            let dst = out.from(0, chunk_start - tokens.start);
            // SAFETY: every pointer and length was checked by the caller;
            // the CPU features were detected at run time.
            unsafe {
                block_kernel(
                    format,
                    blocks,
                    row_bytes,
                    w_rows.as_ptr(),
                    rows,
                    &ptrs[..chunk_end - chunk_start],
                    dst,
                )
            }
        }
    }

    /// [`dot_block`] for interleaved groups of eight rows; lengths checked
    /// there.
    #[allow(clippy::too_many_arguments)]
    fn groups_kernel(
        format: WeightFormat,
        blocks: usize,
        groups: &[u8],
        group_bytes: usize,
        acts: &QuantizedActs,
        tokens: std::ops::Range<usize>,
        out: OutView,
    ) {
        let mut ys = [std::ptr::null::<u8>(); 4];
        let mut res = [[0f32; 8]; 4];
        let vnni = (byte_dot() == ByteDot::Vnni).then(vnni).flatten();
        #[cfg(test)]
        let vnni = vnni.map(|v| {
            let prefer = PREFER_AVX_VNNI.load(std::sync::atomic::Ordering::Relaxed);
            if prefer && std::arch::is_x86_feature_detected!("avxvnni") {
                Vnni::Avx
            } else {
                v
            }
        });
        let n_groups = groups.len() / group_bytes;
        // Two groups at a time in 512-bit registers where the CPU has
        // AVX-512 VNNI (16 rows a register); an odd last group below.
        // (Q4_K and Q6_K here only where their rows are not whole pairs of
        // groups: `QWeight::for_multiply` gives the others the 16-row
        // layout.)
        // Q5_0's layout has only the 512-bit family's kernels, pairs of
        // groups or single groups in its 256-bit forms (`QWeight::for_multiply`
        // chooses it only where the CPU has them, for whole pairs of groups).
        let paired = match (vnni, format) {
            (_, WeightFormat::Q5_0) if tokens.len() >= pairs_groups_from() => {
                assert!(
                    n_groups.is_multiple_of(2),
                    "Q5_0 rows come in pairs of groups"
                );
                n_groups
            }
            (Some(Vnni::Avx512), WeightFormat::Q4K | WeightFormat::Q6K | WeightFormat::Q8_0)
                if tokens.len() >= pairs_groups_from() =>
            {
                n_groups / 2 * 2
            }
            _ => 0,
        };
        for g in (0..paired).step_by(2) {
            pair_of_groups(
                format,
                false,
                blocks,
                &groups[g * group_bytes..(g + 2) * group_bytes],
                group_bytes,
                acts,
                tokens.clone(),
                out.from(g * 8, 0),
            );
        }
        for (g, group) in groups.chunks_exact(group_bytes).enumerate().skip(paired) {
            let mut t = tokens.start;
            while t < tokens.end {
                let k = (tokens.end - t).min(4);
                for (y, row) in ys.iter_mut().zip(t..t + k) {
                    *y = acts.row(row).as_ptr();
                }
                // SAFETY: every length was checked by the caller; the CPU
                // features were detected at run time.
                unsafe {
                    let w = group.as_ptr();
                    if format == WeightFormat::Q5_0 {
                        // Only this CPU's 512-bit family reads this layout.
                        match k {
                            4 => zmm::q5_0_x8::<4>(blocks, w, &ys, &mut res),
                            3 => zmm::q5_0_x8::<3>(blocks, w, &ys, &mut res),
                            2 => zmm::q5_0_x8::<2>(blocks, w, &ys, &mut res),
                            _ => zmm::q5_0_x8::<1>(blocks, w, &ys, &mut res),
                        }
                    } else if let Some(dot) = vnni {
                        dot.group(format, k, blocks, w, &ys, &mut res);
                    } else {
                        match (format, k) {
                            (WeightFormat::Q4K, 4) => q4k_x8::<4>(blocks, w, &ys, &mut res),
                            (WeightFormat::Q4K, 3) => q4k_x8::<3>(blocks, w, &ys, &mut res),
                            (WeightFormat::Q4K, 2) => q4k_x8::<2>(blocks, w, &ys, &mut res),
                            (WeightFormat::Q4K, _) => q4k_x8::<1>(blocks, w, &ys, &mut res),
                            (WeightFormat::Q8_0, 4) => q8_0_x8::<4>(blocks, w, &ys, &mut res),
                            (WeightFormat::Q8_0, 3) => q8_0_x8::<3>(blocks, w, &ys, &mut res),
                            (WeightFormat::Q8_0, 2) => q8_0_x8::<2>(blocks, w, &ys, &mut res),
                            (WeightFormat::Q8_0, _) => q8_0_x8::<1>(blocks, w, &ys, &mut res),
                            (_, 4) => q6k_x8::<4>(blocks, w, &ys, &mut res),
                            (_, 3) => q6k_x8::<3>(blocks, w, &ys, &mut res),
                            (_, 2) => q6k_x8::<2>(blocks, w, &ys, &mut res),
                            (_, _) => q6k_x8::<1>(blocks, w, &ys, &mut res),
                        }
                    }
                }
                for (i, token_res) in res.iter().take(k).enumerate() {
                    // SAFETY: inside what the caller checked; this job's rows.
                    unsafe { out.write_rows(g * 8, t + i - tokens.start, token_res) };
                }
                t += k;
            }
        }
    }

    /// The 16 rows of two groups against `acts[tokens]` with the 512-bit
    /// kernels, into row r, token `t - tokens.start` of `out`: `pair` is one
    /// [`WeightLayout::Paired16`] pair (`paired`) or two `Interleaved8`
    /// groups, the second `group_bytes` after the first. The caller
    /// checked the activations and `out`; the CPU has AVX-512 VNNI (F, BW,
    /// VL).
    #[allow(clippy::too_many_arguments)]
    fn pair_of_groups(
        format: WeightFormat,
        paired: bool,
        blocks: usize,
        pair: &[u8],
        group_bytes: usize,
        acts: &QuantizedActs,
        tokens: std::ops::Range<usize>,
        out: OutView,
    ) {
        assert!(pair.len() >= 2 * blocks * interleaved_block_bytes(format));
        assert!(paired || pair.len() >= 2 * group_bytes);
        let w = pair.as_ptr();
        let mut res16 = [[0f32; 16]; zmm::MAX_TOKENS];
        let mut ys8 = [std::ptr::null::<u8>(); zmm::MAX_TOKENS];
        let mut t = tokens.start;
        while t < tokens.end {
            let k = (tokens.end - t).min(zmm::MAX_TOKENS);
            for (y, row) in ys8.iter_mut().zip(t..t + k) {
                *y = acts.row(row).as_ptr();
            }
            // SAFETY: the caller checked the lengths and the CPU features.
            unsafe { zmm::group_pair(format, paired, k, blocks, w, group_bytes, &ys8, &mut res16) };
            for (i, token_res) in res16.iter().take(k).enumerate() {
                // SAFETY: inside what the caller checked; this job's rows.
                unsafe { out.write_rows(0, t + i - tokens.start, token_res) };
            }
            t += k;
        }
    }

    /// The end of a block of eight interleaved rows against `T` Q8_0
    /// activation rows, for the kernels that keep two integer sums per
    /// token (even and odd runs): the sums added, scaled by the rows' f16
    /// scales at `x` and the token's own scale, added to `acc`.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn add_q8_0_block<const T: usize>(
        x: *const u8,
        ys: &[*const u8; 4],
        b: usize,
        isum: &[[__m256i; 2]; T],
        acc: &mut [__m256; T],
    ) {
        let d = _mm256_cvtph_ps(_mm_loadu_si128(x as *const __m128i));
        for t in 0..T {
            let yd = _mm256_set1_ps(f32_at(ys[t].wrapping_add(b * Q8_0_BYTES)));
            acc[t] = _mm256_fmadd_ps(
                _mm256_mul_ps(d, yd),
                _mm256_cvtepi32_ps(_mm256_add_epi32(isum[t][0], isum[t][1])),
                acc[t],
            );
        }
    }

    /// Eight interleaved Q8_0 rows against `T` Q8_0 activation rows:
    /// `out[t][r]`. Per run of four columns, |w| × (a with w's sign) by
    /// `maddubs` (at most 2 × 128 × 127 per 16-bit lane, no overflow), then
    /// `madd` adds each row's four products into its 32-bit lane.
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn q8_0_x8<const T: usize>(
        blocks: usize,
        w: *const u8,
        ys: &[*const u8; 4],
        out: &mut [[f32; 8]; 4],
    ) {
        use crate::format::Q8_0_X8_BYTES;
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_ps(); T];
        for b in 0..blocks {
            let x = w.wrapping_add(b * Q8_0_X8_BYTES);
            let mut isum = [_mm256_setzero_si256(); T];
            for run in 0..8 {
                let wv = load256(x.wrapping_add(16 + 32 * run));
                let aw = _mm256_sign_epi8(wv, wv);
                for t in 0..T {
                    let y = broadcast4(ys[t].wrapping_add(b * Q8_0_BYTES + 4 + 4 * run));
                    let p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(y, wv));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, ones));
                }
            }
            let d = _mm256_cvtph_ps(_mm_loadu_si128(x as *const __m128i));
            for t in 0..T {
                let yd = _mm256_set1_ps(f32_at(ys[t].wrapping_add(b * Q8_0_BYTES)));
                acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, yd), _mm256_cvtepi32_ps(isum[t]), acc[t]);
            }
        }
        for t in 0..T {
            _mm256_storeu_ps(out[t].as_mut_ptr(), acc[t]);
        }
    }

    /// Eight interleaved Q4_K rows against `T` activation rows: `out[t][r]`.
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn q4k_x8<const T: usize>(
        blocks: usize,
        w: *const u8,
        ys: &[*const u8; 4],
        out: &mut [[f32; 8]; 4],
    ) {
        use crate::format::Q4K_X8_BYTES;
        let m4 = _mm256_set1_epi8(0xF);
        let mut acc = [_mm256_setzero_ps(); T];
        for b in 0..blocks {
            let x = w.wrapping_add(b * Q4K_X8_BYTES);
            let qs = x.wrapping_add(160);
            let mut isum = [_mm256_setzero_si256(); T];
            for sub in 0..8 {
                // This sub-block's scale for rows 0..8, each twice (the two
                // 16-bit lanes a row's products land in).
                let sc8 = _mm_loadl_epi64(x.wrapping_add(32 + 8 * sub) as *const __m128i);
                let sc = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sc8, sc8));
                let mut sub_sum = [_mm256_setzero_si256(); T];
                for half in 0..4 {
                    let bits = load256(qs.wrapping_add((sub * 4 + half) * 32));
                    let lo = _mm256_and_si256(bits, m4);
                    let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(bits), m4);
                    for t in 0..T {
                        let y = ys[t].wrapping_add(b * Q8K_BYTES + 4 + 32 * sub + 8 * half);
                        let y_lo = broadcast4(y);
                        let y_hi = broadcast4(y.wrapping_add(4));
                        let p = _mm256_add_epi16(
                            _mm256_maddubs_epi16(lo, y_lo),
                            _mm256_maddubs_epi16(hi, y_hi),
                        );
                        sub_sum[t] = _mm256_add_epi16(sub_sum[t], p);
                    }
                }
                for t in 0..T {
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(sub_sum[t], sc));
                }
            }
            let d = _mm256_cvtph_ps(_mm_loadu_si128(x as *const __m128i));
            let dmin = _mm256_cvtph_ps(_mm_loadu_si128(x.wrapping_add(16) as *const __m128i));
            let mins: [__m256i; 4] = std::array::from_fn(|p| {
                _mm256_cvtepu8_epi16(_mm_loadu_si128(
                    x.wrapping_add(96 + 16 * p) as *const __m128i
                ))
            });
            for t in 0..T {
                let yb = ys[t].wrapping_add(b * Q8K_BYTES);
                let yd = _mm256_set1_ps(f32_at(yb));
                let sums = yb.wrapping_add(Q8K_SUMS32);
                let mut msum = _mm256_setzero_si256();
                for (p, m) in mins.iter().enumerate() {
                    let pair = broadcast4(sums.wrapping_add(4 * p));
                    msum = _mm256_add_epi32(msum, _mm256_madd_epi16(*m, pair));
                }
                acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, yd), _mm256_cvtepi32_ps(isum[t]), acc[t]);
                acc[t] =
                    _mm256_fnmadd_ps(_mm256_mul_ps(dmin, yd), _mm256_cvtepi32_ps(msum), acc[t]);
            }
        }
        for t in 0..T {
            _mm256_storeu_ps(out[t].as_mut_ptr(), acc[t]);
        }
    }

    /// Eight interleaved Q6_K rows against `T` activation rows: `out[t][r]`.
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn q6k_x8<const T: usize>(
        blocks: usize,
        w: *const u8,
        ys: &[*const u8; 4],
        out: &mut [[f32; 8]; 4],
    ) {
        use crate::format::Q6K_X8_BYTES;
        let m4 = _mm256_set1_epi8(0xF);
        let m30 = _mm256_set1_epi8(0x30);
        let mut acc = [_mm256_setzero_ps(); T];
        for b in 0..blocks {
            let x = w.wrapping_add(b * Q6K_X8_BYTES);
            let scales = x.wrapping_add(16);
            let mut isum = [_mm256_setzero_si256(); T];
            for quad in 0..16 {
                let at = x.wrapping_add(144 + 96 * quad);
                let bits0 = load256(at);
                let bits1 = load256(at.wrapping_add(32));
                let high = load256(at.wrapping_add(64));
                // Columns 16q + 4m .. +4 of all eight rows, m = 0..4.
                let q = [
                    _mm256_or_si256(
                        _mm256_and_si256(bits0, m4),
                        _mm256_and_si256(_mm256_slli_epi16::<4>(high), m30),
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16::<4>(bits0), m4),
                        _mm256_and_si256(_mm256_slli_epi16::<2>(high), m30),
                    ),
                    _mm256_or_si256(_mm256_and_si256(bits1, m4), _mm256_and_si256(high, m30)),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16::<4>(bits1), m4),
                        _mm256_and_si256(_mm256_srli_epi16::<2>(high), m30),
                    ),
                ];
                let sc8 = _mm_loadl_epi64(scales.wrapping_add(8 * quad) as *const __m128i);
                let sc = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(sc8, sc8));
                for t in 0..T {
                    let y = ys[t].wrapping_add(b * Q8K_BYTES + 4 + 16 * quad);
                    // Two products of up to 2 · 63 · 128 each still fit in
                    // 16 bits; four would not.
                    let p01 = _mm256_add_epi16(
                        _mm256_maddubs_epi16(q[0], broadcast4(y)),
                        _mm256_maddubs_epi16(q[1], broadcast4(y.wrapping_add(4))),
                    );
                    let p23 = _mm256_add_epi16(
                        _mm256_maddubs_epi16(q[2], broadcast4(y.wrapping_add(8))),
                        _mm256_maddubs_epi16(q[3], broadcast4(y.wrapping_add(12))),
                    );
                    let p =
                        _mm256_add_epi32(_mm256_madd_epi16(p01, sc), _mm256_madd_epi16(p23, sc));
                    isum[t] = _mm256_add_epi32(isum[t], p);
                }
            }
            // The stored values are offset by 32: subtract
            // 32 · Σ scale · (sum of the sub-block's activations), with the
            // scales widened to (row, two sub-blocks) pairs.
            let pairs: [__m256i; 8] = std::array::from_fn(|p| {
                let v = _mm_loadu_si128(scales.wrapping_add(16 * p) as *const __m128i);
                _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(v, _mm_srli_si128::<8>(v)))
            });
            let d = _mm256_cvtph_ps(_mm_loadu_si128(x as *const __m128i));
            for t in 0..T {
                let yb = ys[t].wrapping_add(b * Q8K_BYTES);
                let sums = yb.wrapping_add(Q8K_SUMS);
                let mut corr = _mm256_setzero_si256();
                for (p, pair) in pairs.iter().enumerate() {
                    let s = broadcast4(sums.wrapping_add(4 * p));
                    corr = _mm256_add_epi32(corr, _mm256_madd_epi16(*pair, s));
                }
                let total = _mm256_sub_epi32(isum[t], _mm256_slli_epi32::<5>(corr));
                let scale = _mm256_mul_ps(d, _mm256_set1_ps(f32_at(yb)));
                acc[t] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(total), acc[t]);
            }
        }
        for t in 0..T {
            _mm256_storeu_ps(out[t].as_mut_ptr(), acc[t]);
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn block_kernel(
        format: WeightFormat,
        blocks: usize,
        row_bytes: usize,
        w: *const u8,
        rows: usize,
        acts: &[*const u8],
        out: OutView,
    ) {
        let mut ys = [std::ptr::null::<u8>(); 4];
        let mut res = [0f32; 4];
        for r in 0..rows {
            let w_row = w.wrapping_add(r * row_bytes);
            let mut i = 0;
            while i < acts.len() {
                let n = (acts.len() - i).min(4);
                ys[..n].copy_from_slice(&acts[i..i + n]);
                match n {
                    4 => dispatch::<4>(format, blocks, w_row, &ys, &mut res),
                    3 => dispatch::<3>(format, blocks, w_row, &ys, &mut res),
                    2 => dispatch::<2>(format, blocks, w_row, &ys, &mut res),
                    _ => dispatch::<1>(format, blocks, w_row, &ys, &mut res),
                }
                for (k, v) in res.iter().take(n).enumerate() {
                    out.write(r, i + k, *v);
                }
                i += n;
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn dispatch<const R: usize>(
        format: WeightFormat,
        blocks: usize,
        w: *const u8,
        ys: &[*const u8; 4],
        out: &mut [f32],
    ) {
        match format {
            WeightFormat::Q4K => q4k::<R>(blocks, w, ys, out),
            WeightFormat::Q6K => q6k::<R>(blocks, w, ys, out),
            WeightFormat::Q8_0 => q8_0::<R>(blocks, w, ys, out),
            WeightFormat::Q4_0 => q4_0::<R>(blocks, w, ys, out),
            WeightFormat::Q5_0 => q5_0::<R>(blocks, w, ys, out),
            WeightFormat::Q4_1 => q4_1::<R>(blocks, w, ys, out),
            WeightFormat::F32
            | WeightFormat::F16
            | WeightFormat::BF16
            | WeightFormat::Q5_1
            | WeightFormat::Q5K => unreachable!("no activation format for {format:?}"),
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn hsum8(x: __m256) -> f32 {
        let hi = _mm256_extractf128_ps::<1>(x);
        let s = _mm_add_ps(hi, _mm256_castps256_ps128(x));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn f16_at(p: *const u8) -> f32 {
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_loadu_si16(p)))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn f32_at(p: *const u8) -> f32 {
        _mm_cvtss_f32(_mm_castsi128_ps(_mm_loadu_si32(p)))
    }

    /// Four bytes repeated eight times; a pure load (`vbroadcastss`), no
    /// shuffle unit.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn broadcast4(p: *const u8) -> __m256i {
        _mm256_castps_si256(_mm256_broadcast_ss(&*(p as *const f32)))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load256(p: *const u8) -> __m256i {
        _mm256_loadu_si256(p as *const __m256i)
    }

    /// 16 bytes of nibbles → 32 bytes: low nibbles first, then high ones.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn bytes_from_nibbles_32(p: *const u8) -> __m256i {
        let tmp = _mm_loadu_si128(p as *const __m128i);
        let bytes =
            _mm256_insertf128_si256::<1>(_mm256_castsi128_si256(tmp), _mm_srli_epi16::<4>(tmp));
        _mm256_and_si256(_mm256_set1_epi8(0xF), bytes)
    }

    /// 32 bits → 32 bytes of 0xFF (bit set) or 0x00.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn bytes_from_bits_32(p: *const u8) -> __m256i {
        let x32 = _mm_cvtsi128_si32(_mm_loadu_si32(p));
        let shuf = _mm256_set_epi64x(
            0x0303_0303_0303_0303,
            0x0202_0202_0202_0202,
            0x0101_0101_0101_0101,
            0,
        );
        let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(x32 as i32), shuf);
        let bit_mask = _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe);
        let bytes = _mm256_or_si256(bytes, bit_mask);
        _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1))
    }

    /// Sum of products of signed bytes, as 8 floats.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn dot_i8_abs(ax: __m256i, x: __m256i, y: __m256i) -> __m256 {
        let sy = _mm256_sign_epi8(y, x);
        let dot = _mm256_maddubs_epi16(ax, sy);
        _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_set1_epi16(1), dot))
    }

    /// The VNNI flavour this CPU has, the 512-bit family's first.
    pub(super) fn vnni() -> Option<Vnni> {
        static FOUND: std::sync::OnceLock<Option<Vnni>> = std::sync::OnceLock::new();
        *FOUND.get_or_init(|| {
            if is_x86_feature_detected!("avx512vnni")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
            {
                Some(Vnni::Avx512)
            } else if is_x86_feature_detected!("avxvnni") {
                Some(Vnni::Avx)
            } else {
                None
            }
        })
    }

    /// `vpdpbusd` in its EVEX (AVX-512 VL) or VEX (AVX-VNNI) encoding.
    #[derive(Clone, Copy, Debug)]
    pub(super) enum Vnni {
        Avx512,
        Avx,
    }

    impl Vnni {
        /// The interleaved kernel for `format` and `k` (1..=4) tokens.
        ///
        /// # Safety
        /// As for the AVX2 kernels: `w` holds `blocks` interleaved blocks and
        /// each of the first `k` pointers in `ys` a whole activation row; the
        /// CPU has this flavour (from [`vnni`]).
        pub(super) unsafe fn group(
            self,
            format: WeightFormat,
            k: usize,
            blocks: usize,
            w: *const u8,
            ys: &[*const u8; 4],
            res: &mut [[f32; 8]; 4],
        ) {
            macro_rules! pick {
                ($m:ident) => {
                    match (format, k) {
                        (WeightFormat::Q4K, 4) => $m::q4k_x8::<4>(blocks, w, ys, res),
                        (WeightFormat::Q4K, 3) => $m::q4k_x8::<3>(blocks, w, ys, res),
                        (WeightFormat::Q4K, 2) => $m::q4k_x8::<2>(blocks, w, ys, res),
                        (WeightFormat::Q4K, _) => $m::q4k_x8::<1>(blocks, w, ys, res),
                        (WeightFormat::Q8_0, 4) => $m::q8_0_x8::<4>(blocks, w, ys, res),
                        (WeightFormat::Q8_0, 3) => $m::q8_0_x8::<3>(blocks, w, ys, res),
                        (WeightFormat::Q8_0, 2) => $m::q8_0_x8::<2>(blocks, w, ys, res),
                        (WeightFormat::Q8_0, _) => $m::q8_0_x8::<1>(blocks, w, ys, res),
                        (_, 4) => $m::q6k_x8::<4>(blocks, w, ys, res),
                        (_, 3) => $m::q6k_x8::<3>(blocks, w, ys, res),
                        (_, 2) => $m::q6k_x8::<2>(blocks, w, ys, res),
                        (_, _) => $m::q6k_x8::<1>(blocks, w, ys, res),
                    }
                };
            }
            match self {
                Vnni::Avx512 => pick!(vnni512),
                Vnni::Avx => pick!(vnni256),
            }
        }
    }

    /// The three interleaved kernels with `vpdpbusd` (`$dp`, needing
    /// `$features`): the same integer sums as the AVX2 kernels above, so the
    /// same bits, in fewer instructions — each group of four byte products
    /// goes straight into its row's 32-bit lane, where AVX2 needs `maddubs`,
    /// a 16-bit add and a `madd`.
    macro_rules! vnni_kernels {
        ($name:ident, $features:literal, $dp:ident) => {
            mod $name {
                use super::*;

                /// Eight interleaved Q8_0 rows against `T` Q8_0 activation
                /// rows: |w| × (a with w's sign), four products a lane.
                #[target_feature(enable = $features)]
                pub(super) unsafe fn q8_0_x8<const T: usize>(
                    blocks: usize,
                    w: *const u8,
                    ys: &[*const u8; 4],
                    out: &mut [[f32; 8]; 4],
                ) {
                    use crate::format::Q8_0_X8_BYTES;
                    let mut acc = [_mm256_setzero_ps(); T];
                    for b in 0..blocks {
                        let x = w.wrapping_add(b * Q8_0_X8_BYTES);
                        // Two sums per token (even and odd runs): one
                        // chain of dependent `vpdpbusd`s would wait on its
                        // latency, not its throughput.
                        let mut isum = [[_mm256_setzero_si256(); 2]; T];
                        for run in 0..8 {
                            let wv = load256(x.wrapping_add(16 + 32 * run));
                            let aw = _mm256_sign_epi8(wv, wv);
                            for t in 0..T {
                                let y =
                                    broadcast4(ys[t].wrapping_add(b * Q8_0_BYTES + 4 + 4 * run));
                                isum[t][run % 2] =
                                    $dp(isum[t][run % 2], aw, _mm256_sign_epi8(y, wv));
                            }
                        }
                        add_q8_0_block(x, ys, b, &isum, &mut acc);
                    }
                    for t in 0..T {
                        _mm256_storeu_ps(out[t].as_mut_ptr(), acc[t]);
                    }
                }

                /// Eight interleaved Q4_K rows against `T` activation rows.
                /// A row's 32-column sub-block sum (up to 32 · 15 · 127) needs
                /// 32 bits, so it is scaled by a 32-bit multiply.
                #[target_feature(enable = $features)]
                pub(super) unsafe fn q4k_x8<const T: usize>(
                    blocks: usize,
                    w: *const u8,
                    ys: &[*const u8; 4],
                    out: &mut [[f32; 8]; 4],
                ) {
                    use crate::format::Q4K_X8_BYTES;
                    let m4 = _mm256_set1_epi8(0xF);
                    let mut acc = [_mm256_setzero_ps(); T];
                    for b in 0..blocks {
                        let x = w.wrapping_add(b * Q4K_X8_BYTES);
                        let qs = x.wrapping_add(160);
                        let mut isum = [_mm256_setzero_si256(); T];
                        for sub in 0..8 {
                            let sc = _mm256_cvtepu8_epi32(_mm_loadl_epi64(
                                x.wrapping_add(32 + 8 * sub) as *const __m128i,
                            ));
                            // Low and high nibbles in separate sums: two
                            // short chains of `vpdpbusd` instead of one long.
                            let mut sub_sum = [[_mm256_setzero_si256(); 2]; T];
                            for half in 0..4 {
                                let bits = load256(qs.wrapping_add((sub * 4 + half) * 32));
                                let lo = _mm256_and_si256(bits, m4);
                                let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(bits), m4);
                                for t in 0..T {
                                    let y =
                                        ys[t].wrapping_add(b * Q8K_BYTES + 4 + 32 * sub + 8 * half);
                                    sub_sum[t][0] = $dp(sub_sum[t][0], lo, broadcast4(y));
                                    sub_sum[t][1] =
                                        $dp(sub_sum[t][1], hi, broadcast4(y.wrapping_add(4)));
                                }
                            }
                            for t in 0..T {
                                let sum = _mm256_add_epi32(sub_sum[t][0], sub_sum[t][1]);
                                isum[t] = _mm256_add_epi32(isum[t], _mm256_mullo_epi32(sum, sc));
                            }
                        }
                        let d = _mm256_cvtph_ps(_mm_loadu_si128(x as *const __m128i));
                        let dmin =
                            _mm256_cvtph_ps(_mm_loadu_si128(x.wrapping_add(16) as *const __m128i));
                        let mins: [__m256i; 4] = std::array::from_fn(|p| {
                            _mm256_cvtepu8_epi16(_mm_loadu_si128(
                                x.wrapping_add(96 + 16 * p) as *const __m128i
                            ))
                        });
                        for t in 0..T {
                            let yb = ys[t].wrapping_add(b * Q8K_BYTES);
                            let yd = _mm256_set1_ps(f32_at(yb));
                            let sums = yb.wrapping_add(Q8K_SUMS32);
                            let mut msum = _mm256_setzero_si256();
                            for (p, m) in mins.iter().enumerate() {
                                let pair = broadcast4(sums.wrapping_add(4 * p));
                                msum = _mm256_add_epi32(msum, _mm256_madd_epi16(*m, pair));
                            }
                            acc[t] = _mm256_fmadd_ps(
                                _mm256_mul_ps(d, yd),
                                _mm256_cvtepi32_ps(isum[t]),
                                acc[t],
                            );
                            acc[t] = _mm256_fnmadd_ps(
                                _mm256_mul_ps(dmin, yd),
                                _mm256_cvtepi32_ps(msum),
                                acc[t],
                            );
                        }
                    }
                    for t in 0..T {
                        _mm256_storeu_ps(out[t].as_mut_ptr(), acc[t]);
                    }
                }

                /// Eight interleaved Q6_K rows against `T` activation rows.
                /// A 16-column sub-block's sum needs 32 bits here (up to
                /// 16 · 63 · 128), so it is scaled by a 32-bit multiply.
                #[target_feature(enable = $features)]
                pub(super) unsafe fn q6k_x8<const T: usize>(
                    blocks: usize,
                    w: *const u8,
                    ys: &[*const u8; 4],
                    out: &mut [[f32; 8]; 4],
                ) {
                    use crate::format::Q6K_X8_BYTES;
                    let m4 = _mm256_set1_epi8(0xF);
                    let m30 = _mm256_set1_epi8(0x30);
                    let mut acc = [_mm256_setzero_ps(); T];
                    for b in 0..blocks {
                        let x = w.wrapping_add(b * Q6K_X8_BYTES);
                        let scales = x.wrapping_add(16);
                        let mut isum = [_mm256_setzero_si256(); T];
                        for quad in 0..16 {
                            let at = x.wrapping_add(144 + 96 * quad);
                            let bits0 = load256(at);
                            let bits1 = load256(at.wrapping_add(32));
                            let high = load256(at.wrapping_add(64));
                            let q = [
                                _mm256_or_si256(
                                    _mm256_and_si256(bits0, m4),
                                    _mm256_and_si256(_mm256_slli_epi16::<4>(high), m30),
                                ),
                                _mm256_or_si256(
                                    _mm256_and_si256(_mm256_srli_epi16::<4>(bits0), m4),
                                    _mm256_and_si256(_mm256_slli_epi16::<2>(high), m30),
                                ),
                                _mm256_or_si256(
                                    _mm256_and_si256(bits1, m4),
                                    _mm256_and_si256(high, m30),
                                ),
                                _mm256_or_si256(
                                    _mm256_and_si256(_mm256_srli_epi16::<4>(bits1), m4),
                                    _mm256_and_si256(_mm256_srli_epi16::<2>(high), m30),
                                ),
                            ];
                            let sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64(
                                scales.wrapping_add(8 * quad) as *const __m128i,
                            ));
                            for t in 0..T {
                                let y = ys[t].wrapping_add(b * Q8K_BYTES + 4 + 16 * quad);
                                // Two chains of two, not one of four.
                                let zero = _mm256_setzero_si256();
                                let s0 = $dp(zero, q[0], broadcast4(y));
                                let s1 = $dp(zero, q[1], broadcast4(y.wrapping_add(4)));
                                let s0 = $dp(s0, q[2], broadcast4(y.wrapping_add(8)));
                                let s1 = $dp(s1, q[3], broadcast4(y.wrapping_add(12)));
                                let s = _mm256_add_epi32(s0, s1);
                                isum[t] = _mm256_add_epi32(isum[t], _mm256_mullo_epi32(s, sc));
                            }
                        }
                        let pairs: [__m256i; 8] = std::array::from_fn(|p| {
                            let v = _mm_loadu_si128(scales.wrapping_add(16 * p) as *const __m128i);
                            _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(v, _mm_srli_si128::<8>(v)))
                        });
                        let d = _mm256_cvtph_ps(_mm_loadu_si128(x as *const __m128i));
                        for t in 0..T {
                            let yb = ys[t].wrapping_add(b * Q8K_BYTES);
                            let sums = yb.wrapping_add(Q8K_SUMS);
                            let mut corr = _mm256_setzero_si256();
                            for (p, pair) in pairs.iter().enumerate() {
                                let s = broadcast4(sums.wrapping_add(4 * p));
                                corr = _mm256_add_epi32(corr, _mm256_madd_epi16(*pair, s));
                            }
                            let total = _mm256_sub_epi32(isum[t], _mm256_slli_epi32::<5>(corr));
                            let scale = _mm256_mul_ps(d, _mm256_set1_ps(f32_at(yb)));
                            acc[t] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(total), acc[t]);
                        }
                    }
                    for t in 0..T {
                        _mm256_storeu_ps(out[t].as_mut_ptr(), acc[t]);
                    }
                }
            }
        };
    }
    vnni_kernels!(
        vnni512,
        "avx2,fma,f16c,avx512vnni,avx512vl",
        _mm256_dpbusd_epi32
    );
    vnni_kernels!(vnni256, "avx2,fma,f16c,avxvnni", _mm256_dpbusd_avx_epi32);

    /// Kernels over two interleaved groups at once (16 rows) in 512-bit
    /// registers with AVX-512 VNNI: a 512-bit `vpdpbusd` does twice the
    /// products of a 256-bit one, at nearly the same rate where the CPU has
    /// two 512-bit units (Sapphire Rapids: 460 against 250 GMAC/s a core).
    /// The same integer sums and the same float steps per row as the 8-row
    /// kernels, so the same bits.
    pub(super) mod zmm {
        use super::*;

        /// Activation rows per pass: 32 registers hold the sums of up to
        /// eight tokens, so a verification of 5 drafted tokens (+1) reads
        /// and unpacks the weights once.
        pub(super) const MAX_TOKENS: usize = 8;

        /// `format` (Q4_K, Q6_K, Q8_0 or Q5_0) against `k` (1..=8)
        /// activation rows, for the two groups at `w`: `res[t][r]`, rows
        /// 0..8 of the first group then 0..8 of the second.
        ///
        /// # Safety
        /// `w` holds two whole groups of `blocks` interleaved blocks (the
        /// second `group_bytes` after the first, or one
        /// [`WeightLayout::Paired16`] pair where `paired`, Q4_K and Q6_K
        /// only); each of the first `k` pointers in `ys` a whole activation
        /// row; the CPU has AVX-512 F, BW, VL and VNNI.
        #[allow(clippy::too_many_arguments)]
        pub(super) unsafe fn group_pair(
            format: WeightFormat,
            paired: bool,
            k: usize,
            blocks: usize,
            w: *const u8,
            group_bytes: usize,
            ys: &[*const u8; MAX_TOKENS],
            res: &mut [[f32; 16]; MAX_TOKENS],
        ) {
            macro_rules! widths {
                ($f:ident $(, $p:literal)?) => {
                    match k {
                        8 => $f::<8 $(, $p)?>(blocks, w, group_bytes, ys, res),
                        7 => $f::<7 $(, $p)?>(blocks, w, group_bytes, ys, res),
                        6 => $f::<6 $(, $p)?>(blocks, w, group_bytes, ys, res),
                        5 => $f::<5 $(, $p)?>(blocks, w, group_bytes, ys, res),
                        4 => $f::<4 $(, $p)?>(blocks, w, group_bytes, ys, res),
                        3 => $f::<3 $(, $p)?>(blocks, w, group_bytes, ys, res),
                        2 => $f::<2 $(, $p)?>(blocks, w, group_bytes, ys, res),
                        _ => $f::<1 $(, $p)?>(blocks, w, group_bytes, ys, res),
                    }
                };
            }
            match (format, paired) {
                (WeightFormat::Q4K, true) => widths!(q4k_x16, true),
                (WeightFormat::Q4K, false) => widths!(q4k_x16, false),
                (WeightFormat::Q8_0, _) => widths!(q8_0_x16),
                (WeightFormat::Q5_0, _) => widths!(q5_0_x16),
                (_, true) => widths!(q6k_x16, true),
                (_, false) => widths!(q6k_x16, false),
            }
        }

        /// `rounds` times twelve `vpdpbusd` in twelve independent chains
        /// (for `vnni_peak_macs`).
        ///
        /// # Safety
        /// The CPU has AVX-512 F, BW and VNNI.
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
        pub(crate) unsafe fn dpbusd_chains(rounds: usize) -> i32 {
            let mut sums = [_mm512_set1_epi32(1); 12];
            let x = std::hint::black_box(_mm512_set1_epi8(3));
            let y = std::hint::black_box(_mm512_set1_epi8(5));
            for _ in 0..rounds {
                for s in sums.iter_mut() {
                    *s = _mm512_dpbusd_epi32(*s, x, y);
                }
            }
            let total = sums
                .iter()
                .fold(_mm512_setzero_si512(), |a, s| _mm512_add_epi32(a, *s));
            _mm512_reduce_add_epi32(total)
        }

        /// 32 bytes from each group in one register.
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        unsafe fn pair256(x0: *const u8, x1: *const u8) -> __m512i {
            _mm512_inserti64x4::<1>(
                _mm512_castsi256_si512(_mm256_loadu_si256(x0 as *const __m256i)),
                _mm256_loadu_si256(x1 as *const __m256i),
            )
        }

        /// Where block `b`'s two groups start: in a
        /// [`WeightLayout::Paired16`] pair (`PAIRED`), the first group's
        /// leading `header` bytes and then the second's; else two
        /// `Interleaved8` groups `group_bytes` apart. The leading fields are
        /// at the same offsets from either start.
        #[inline(always)]
        fn pair_block<const PAIRED: bool>(
            w: *const u8,
            b: usize,
            block_bytes: usize,
            header: usize,
            group_bytes: usize,
        ) -> (*const u8, *const u8) {
            if PAIRED {
                let x0 = w.wrapping_add(2 * b * block_bytes);
                (x0, x0.wrapping_add(header))
            } else {
                let x0 = w.wrapping_add(b * block_bytes);
                (x0, x0.wrapping_add(group_bytes))
            }
        }

        /// The 32 quant bytes at offset `at` of an interleaved block, of
        /// both groups (from [`pair_block`]): one 64-byte load in a
        /// `Paired16` pair (where they sit side by side at `2 * at`).
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        unsafe fn quants16<const PAIRED: bool>(x0: *const u8, x1: *const u8, at: usize) -> __m512i {
            if PAIRED {
                _mm512_loadu_si512(x0.wrapping_add(2 * at) as *const __m512i)
            } else {
                pair256(x0.wrapping_add(at), x1.wrapping_add(at))
            }
        }

        /// 16 bytes from each group in one 256-bit register.
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        unsafe fn pair128(x0: *const u8, x1: *const u8) -> __m256i {
            _mm256_inserti128_si256::<1>(
                _mm256_castsi128_si256(_mm_loadu_si128(x0 as *const __m128i)),
                _mm_loadu_si128(x1 as *const __m128i),
            )
        }

        /// Four bytes repeated sixteen times (a broadcast load).
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        unsafe fn broadcast4x16(p: *const u8) -> __m512i {
            _mm512_set1_epi32((p as *const i32).read_unaligned())
        }

        /// Interleaved Q5_0 (`BlockQ5_0X8`): per pair of runs one load of
        /// nibbles, a run's fifth bits ORed in through a byte mask, minus
        /// 16, then as Q8_0 — the same integer products as the Q5_0 matrix
        /// widened to Q8_0, so the same bits.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        unsafe fn q5_0_x16<const T: usize>(
            blocks: usize,
            w: *const u8,
            group_bytes: usize,
            ys: &[*const u8; MAX_TOKENS],
            out: &mut [[f32; 16]; MAX_TOKENS],
        ) {
            use crate::format::Q5_0_X8_BYTES;
            let zero = _mm512_setzero_si512();
            let m4 = _mm512_set1_epi8(0xF);
            let fifth = _mm512_set1_epi8(0x10);
            let sixteen = _mm512_set1_epi8(16);
            let mut acc = [_mm512_setzero_ps(); T];
            for b in 0..blocks {
                let x0 = w.wrapping_add(b * Q5_0_X8_BYTES);
                let x1 = x0.wrapping_add(group_bytes);
                _mm_prefetch::<_MM_HINT_T0>(x0.wrapping_add(4 * Q5_0_X8_BYTES) as *const i8);
                _mm_prefetch::<_MM_HINT_T0>(x1.wrapping_add(4 * Q5_0_X8_BYTES) as *const i8);
                _mm_prefetch::<_MM_HINT_T0>(x0.wrapping_add(4 * Q5_0_X8_BYTES + 64) as *const i8);
                _mm_prefetch::<_MM_HINT_T0>(x1.wrapping_add(4 * Q5_0_X8_BYTES + 64) as *const i8);
                _mm_prefetch::<_MM_HINT_T0>(x0.wrapping_add(4 * Q5_0_X8_BYTES + 128) as *const i8);
                _mm_prefetch::<_MM_HINT_T0>(x1.wrapping_add(4 * Q5_0_X8_BYTES + 128) as *const i8);
                let mut isum = [[_mm512_setzero_si512(); 2]; T];
                for p in 0..4 {
                    let at = 16 + 32 * p;
                    let bits = pair256(x0.wrapping_add(at), x1.wrapping_add(at));
                    let halves = [
                        _mm512_and_si512(bits, m4),
                        _mm512_and_si512(_mm512_srli_epi16::<4>(bits), m4),
                    ];
                    for (h, low) in halves.into_iter().enumerate() {
                        let run = 2 * p + h;
                        let at = 144 + 4 * run;
                        let high = (x0.wrapping_add(at) as *const u32).read_unaligned() as u64
                            | ((x1.wrapping_add(at) as *const u32).read_unaligned() as u64) << 32;
                        // The fifth bits: +16 in the bytes the mask names.
                        let q = _mm512_mask_add_epi8(low, high, low, fifth);
                        let wv = _mm512_sub_epi8(q, sixteen);
                        let aw = _mm512_abs_epi8(wv);
                        let negative = _mm512_movepi8_mask(wv);
                        for t in 0..T {
                            let y = broadcast4x16(ys[t].wrapping_add(b * Q8_0_BYTES + 4 + 4 * run));
                            let signed = _mm512_mask_sub_epi8(y, negative, zero, y);
                            isum[t][h] = _mm512_dpbusd_epi32(isum[t][h], aw, signed);
                        }
                    }
                }
                let d = _mm512_cvtph_ps(pair128(x0, x1));
                for t in 0..T {
                    let yd = _mm512_set1_ps(f32_at(ys[t].wrapping_add(b * Q8_0_BYTES)));
                    acc[t] = _mm512_fmadd_ps(
                        _mm512_mul_ps(d, yd),
                        _mm512_cvtepi32_ps(_mm512_add_epi32(isum[t][0], isum[t][1])),
                        acc[t],
                    );
                }
            }
            for t in 0..T {
                _mm512_storeu_ps(out[t].as_mut_ptr(), acc[t]);
            }
        }

        /// [`q5_0_x16`] for one group of eight rows on 256-bit registers
        /// (the EVEX forms of the byte mask and `vpdpbusd`): each row's
        /// arithmetic in the same order, so the same bits; for passes too
        /// small for pairs of groups to pay (`pair_groups_from`).
        ///
        /// # Safety
        /// `w` holds one whole group of `blocks` interleaved Q5_0 blocks;
        /// each of the first `T` pointers in `ys` a whole Q8_0 activation
        /// row; the CPU has AVX-512 F, BW, VL and VNNI.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        pub(super) unsafe fn q5_0_x8<const T: usize>(
            blocks: usize,
            w: *const u8,
            ys: &[*const u8; 4],
            out: &mut [[f32; 8]; 4],
        ) {
            use crate::format::Q5_0_X8_BYTES;
            let zero = _mm256_setzero_si256();
            let m4 = _mm256_set1_epi8(0xF);
            let fifth = _mm256_set1_epi8(0x10);
            let sixteen = _mm256_set1_epi8(16);
            let mut acc = [_mm256_setzero_ps(); T];
            for b in 0..blocks {
                let x = w.wrapping_add(b * Q5_0_X8_BYTES);
                let mut isum = [[_mm256_setzero_si256(); 2]; T];
                for p in 0..4 {
                    let bits = _mm256_loadu_si256(x.wrapping_add(16 + 32 * p) as *const __m256i);
                    let halves = [
                        _mm256_and_si256(bits, m4),
                        _mm256_and_si256(_mm256_srli_epi16::<4>(bits), m4),
                    ];
                    for (h, low) in halves.into_iter().enumerate() {
                        let run = 2 * p + h;
                        let high = (x.wrapping_add(144 + 4 * run) as *const u32).read_unaligned();
                        let q = _mm256_mask_add_epi8(low, high, low, fifth);
                        let wv = _mm256_sub_epi8(q, sixteen);
                        let aw = _mm256_abs_epi8(wv);
                        let negative = _mm256_movepi8_mask(wv);
                        for t in 0..T {
                            let y = _mm256_set1_epi32(
                                (ys[t].wrapping_add(b * Q8_0_BYTES + 4 + 4 * run) as *const i32)
                                    .read_unaligned(),
                            );
                            let signed = _mm256_mask_sub_epi8(y, negative, zero, y);
                            isum[t][h] = _mm256_dpbusd_epi32(isum[t][h], aw, signed);
                        }
                    }
                }
                add_q8_0_block(x, ys, b, &isum, &mut acc);
            }
            for t in 0..T {
                _mm256_storeu_ps(out[t].as_mut_ptr(), acc[t]);
            }
        }

        /// |w| × (a negated where w is negative): AVX-512 has no byte
        /// `sign`, so a masked subtraction stands in for it (activations
        /// are within ±127, so the negation never wraps).
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        unsafe fn q8_0_x16<const T: usize>(
            blocks: usize,
            w: *const u8,
            group_bytes: usize,
            ys: &[*const u8; MAX_TOKENS],
            out: &mut [[f32; 16]; MAX_TOKENS],
        ) {
            use crate::format::Q8_0_X8_BYTES;
            let zero = _mm512_setzero_si512();
            let mut acc = [_mm512_setzero_ps(); T];
            for b in 0..blocks {
                let x0 = w.wrapping_add(b * Q8_0_X8_BYTES);
                let x1 = x0.wrapping_add(group_bytes);
                let mut isum = [[_mm512_setzero_si512(); 2]; T];
                for run in 0..8 {
                    let at = 16 + 32 * run;
                    if run % 2 == 0 {
                        let ahead = at + 4 * Q8_0_X8_BYTES;
                        _mm_prefetch::<_MM_HINT_T0>(x0.wrapping_add(ahead) as *const i8);
                        _mm_prefetch::<_MM_HINT_T0>(x1.wrapping_add(ahead) as *const i8);
                    }
                    let wv = pair256(x0.wrapping_add(at), x1.wrapping_add(at));
                    let aw = _mm512_abs_epi8(wv);
                    let negative = _mm512_movepi8_mask(wv);
                    for t in 0..T {
                        let y = broadcast4x16(ys[t].wrapping_add(b * Q8_0_BYTES + 4 + 4 * run));
                        let signed = _mm512_mask_sub_epi8(y, negative, zero, y);
                        isum[t][run % 2] = _mm512_dpbusd_epi32(isum[t][run % 2], aw, signed);
                    }
                }
                let d = _mm512_cvtph_ps(pair128(x0, x1));
                for t in 0..T {
                    let yd = _mm512_set1_ps(f32_at(ys[t].wrapping_add(b * Q8_0_BYTES)));
                    acc[t] = _mm512_fmadd_ps(
                        _mm512_mul_ps(d, yd),
                        _mm512_cvtepi32_ps(_mm512_add_epi32(isum[t][0], isum[t][1])),
                        acc[t],
                    );
                }
            }
            for t in 0..T {
                _mm512_storeu_ps(out[t].as_mut_ptr(), acc[t]);
            }
        }

        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        unsafe fn q6k_x16<const T: usize, const PAIRED: bool>(
            blocks: usize,
            w: *const u8,
            group_bytes: usize,
            ys: &[*const u8; MAX_TOKENS],
            out: &mut [[f32; 16]; MAX_TOKENS],
        ) {
            use crate::format::Q6K_X8_BYTES;
            let m4 = _mm512_set1_epi8(0xF);
            let m30 = _mm512_set1_epi8(0x30);
            let mut acc = [_mm512_setzero_ps(); T];
            for b in 0..blocks {
                let (x0, x1) = pair_block::<PAIRED>(w, b, Q6K_X8_BYTES, 144, group_bytes);
                let mut isum = [_mm512_setzero_si512(); T];
                for quad in 0..16 {
                    let at = 144 + 96 * quad;
                    if PAIRED {
                        // Two pairs of blocks ahead, from three tokens
                        // (kernel_bench: fewer ran as fast or faster with
                        // the hardware prefetcher alone on this layout).
                        if T >= 3 {
                            for line in [0, 64, 128] {
                                let ahead = 2 * at + line + 4 * Q6K_X8_BYTES;
                                _mm_prefetch::<_MM_HINT_T0>(x0.wrapping_add(ahead) as *const i8);
                            }
                        }
                    } else {
                        // Two blocks ahead: the hardware prefetcher alone
                        // left the loads waiting (perf).
                        for line in [0, 64] {
                            let ahead = at + line + 2 * Q6K_X8_BYTES;
                            _mm_prefetch::<_MM_HINT_T0>(x0.wrapping_add(ahead) as *const i8);
                            _mm_prefetch::<_MM_HINT_T0>(x1.wrapping_add(ahead) as *const i8);
                        }
                    }
                    let bits0 = quants16::<PAIRED>(x0, x1, at);
                    let bits1 = quants16::<PAIRED>(x0, x1, at + 32);
                    let high = quants16::<PAIRED>(x0, x1, at + 64);
                    let q = [
                        _mm512_or_si512(
                            _mm512_and_si512(bits0, m4),
                            _mm512_and_si512(_mm512_slli_epi16::<4>(high), m30),
                        ),
                        _mm512_or_si512(
                            _mm512_and_si512(_mm512_srli_epi16::<4>(bits0), m4),
                            _mm512_and_si512(_mm512_slli_epi16::<2>(high), m30),
                        ),
                        _mm512_or_si512(_mm512_and_si512(bits1, m4), _mm512_and_si512(high, m30)),
                        _mm512_or_si512(
                            _mm512_and_si512(_mm512_srli_epi16::<4>(bits1), m4),
                            _mm512_and_si512(_mm512_srli_epi16::<2>(high), m30),
                        ),
                    ];
                    let sc = _mm512_cvtepi8_epi32(_mm_unpacklo_epi64(
                        _mm_loadl_epi64(x0.wrapping_add(16 + 8 * quad) as *const __m128i),
                        _mm_loadl_epi64(x1.wrapping_add(16 + 8 * quad) as *const __m128i),
                    ));
                    for t in 0..T {
                        let y = ys[t].wrapping_add(b * Q8K_BYTES + 4 + 16 * quad);
                        let zero = _mm512_setzero_si512();
                        let s0 = _mm512_dpbusd_epi32(zero, q[0], broadcast4x16(y));
                        let s1 = _mm512_dpbusd_epi32(zero, q[1], broadcast4x16(y.wrapping_add(4)));
                        let s0 = _mm512_dpbusd_epi32(s0, q[2], broadcast4x16(y.wrapping_add(8)));
                        let s1 = _mm512_dpbusd_epi32(s1, q[3], broadcast4x16(y.wrapping_add(12)));
                        let s = _mm512_add_epi32(s0, s1);
                        isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, sc));
                    }
                }
                // Each row's scales of sub-blocks 2p and 2p + 1 side by side
                // (as the 8-row kernel pairs them), first group then second.
                let pairs: [__m512i; 8] = std::array::from_fn(|p| {
                    let side = |x: *const u8| {
                        let v = _mm_loadu_si128(x.wrapping_add(16 + 16 * p) as *const __m128i);
                        _mm_unpacklo_epi8(v, _mm_srli_si128::<8>(v))
                    };
                    _mm512_cvtepi8_epi16(_mm256_inserti128_si256::<1>(
                        _mm256_castsi128_si256(side(x0)),
                        side(x1),
                    ))
                });
                let d = _mm512_cvtph_ps(pair128(x0, x1));
                for t in 0..T {
                    let yb = ys[t].wrapping_add(b * Q8K_BYTES);
                    let sums = yb.wrapping_add(Q8K_SUMS);
                    let mut corr = _mm512_setzero_si512();
                    for (p, pair) in pairs.iter().enumerate() {
                        let s = broadcast4x16(sums.wrapping_add(4 * p));
                        corr = _mm512_add_epi32(corr, _mm512_madd_epi16(*pair, s));
                    }
                    let total = _mm512_sub_epi32(isum[t], _mm512_slli_epi32::<5>(corr));
                    let scale = _mm512_mul_ps(d, _mm512_set1_ps(f32_at(yb)));
                    acc[t] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(total), acc[t]);
                }
            }
            for t in 0..T {
                _mm512_storeu_ps(out[t].as_mut_ptr(), acc[t]);
            }
        }

        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        unsafe fn q4k_x16<const T: usize, const PAIRED: bool>(
            blocks: usize,
            w: *const u8,
            group_bytes: usize,
            ys: &[*const u8; MAX_TOKENS],
            out: &mut [[f32; 16]; MAX_TOKENS],
        ) {
            use crate::format::Q4K_X8_BYTES;
            let m4 = _mm512_set1_epi8(0xF);
            let mut acc = [_mm512_setzero_ps(); T];
            for b in 0..blocks {
                let (x0, x1) = pair_block::<PAIRED>(w, b, Q4K_X8_BYTES, 160, group_bytes);
                let mut isum = [_mm512_setzero_si512(); T];
                for sub in 0..8 {
                    let sc8 = _mm_unpacklo_epi64(
                        _mm_loadl_epi64(x0.wrapping_add(32 + 8 * sub) as *const __m128i),
                        _mm_loadl_epi64(x1.wrapping_add(32 + 8 * sub) as *const __m128i),
                    );
                    let sc = _mm512_cvtepu8_epi32(sc8);
                    let mut sub_sum = [[_mm512_setzero_si512(); 2]; T];
                    for half in 0..4 {
                        let at = 160 + (sub * 4 + half) * 32;
                        if PAIRED {
                            // As in `q6k_x16`.
                            if T >= 3 {
                                let ahead = 2 * at + 4 * Q4K_X8_BYTES;
                                _mm_prefetch::<_MM_HINT_T0>(x0.wrapping_add(ahead) as *const i8);
                            }
                        } else if half % 2 == 0 {
                            // Two blocks ahead: the hardware prefetcher
                            // alone left the loads waiting (perf).
                            let ahead = at + 2 * Q4K_X8_BYTES;
                            _mm_prefetch::<_MM_HINT_T0>(x0.wrapping_add(ahead) as *const i8);
                            _mm_prefetch::<_MM_HINT_T0>(x1.wrapping_add(ahead) as *const i8);
                        }
                        let bits = quants16::<PAIRED>(x0, x1, at);
                        let lo = _mm512_and_si512(bits, m4);
                        let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(bits), m4);
                        for t in 0..T {
                            let y = ys[t].wrapping_add(b * Q8K_BYTES + 4 + 32 * sub + 8 * half);
                            sub_sum[t][0] =
                                _mm512_dpbusd_epi32(sub_sum[t][0], lo, broadcast4x16(y));
                            sub_sum[t][1] = _mm512_dpbusd_epi32(
                                sub_sum[t][1],
                                hi,
                                broadcast4x16(y.wrapping_add(4)),
                            );
                        }
                    }
                    for t in 0..T {
                        let sum = _mm512_add_epi32(sub_sum[t][0], sub_sum[t][1]);
                        isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(sum, sc));
                    }
                }
                let d = _mm512_cvtph_ps(pair128(x0, x1));
                let dmin = _mm512_cvtph_ps(pair128(x0.wrapping_add(16), x1.wrapping_add(16)));
                let mins: [__m512i; 4] = std::array::from_fn(|p| {
                    let at = 96 + 16 * p;
                    _mm512_cvtepu8_epi16(pair128(x0.wrapping_add(at), x1.wrapping_add(at)))
                });
                for t in 0..T {
                    let yb = ys[t].wrapping_add(b * Q8K_BYTES);
                    let yd = _mm512_set1_ps(f32_at(yb));
                    let sums = yb.wrapping_add(Q8K_SUMS32);
                    let mut msum = _mm512_setzero_si512();
                    for (p, m) in mins.iter().enumerate() {
                        let pair = broadcast4x16(sums.wrapping_add(4 * p));
                        msum = _mm512_add_epi32(msum, _mm512_madd_epi16(*m, pair));
                    }
                    acc[t] =
                        _mm512_fmadd_ps(_mm512_mul_ps(d, yd), _mm512_cvtepi32_ps(isum[t]), acc[t]);
                    acc[t] =
                        _mm512_fnmadd_ps(_mm512_mul_ps(dmin, yd), _mm512_cvtepi32_ps(msum), acc[t]);
                }
            }
            for t in 0..T {
                _mm512_storeu_ps(out[t].as_mut_ptr(), acc[t]);
            }
        }
    }

    const Q8K_BYTES: usize = 4 + 256 + 32 + 16;
    const Q8K_SUMS: usize = 4 + 256;
    const Q8K_SUMS32: usize = 4 + 256 + 32;

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn q4k<const R: usize>(
        blocks: usize,
        w: *const u8,
        ys: &[*const u8; 4],
        out: &mut [f32],
    ) {
        const KMASK1: u32 = 0x3f3f3f3f;
        const KMASK2: u32 = 0x0f0f0f0f;
        const KMASK3: u32 = 0x03030303;
        let m4 = _mm256_set1_epi8(0xF);
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..blocks {
            let x = w.wrapping_add(b * 144);
            let d = f16_at(x);
            let dmin = f16_at(x.wrapping_add(2));
            let sp = x.wrapping_add(4);
            let mut utmp = [
                _mm_cvtsi128_si32(_mm_loadu_si32(sp)) as u32,
                _mm_cvtsi128_si32(_mm_loadu_si32(sp.wrapping_add(4))) as u32,
                _mm_cvtsi128_si32(_mm_loadu_si32(sp.wrapping_add(8))) as u32,
                0,
            ];
            utmp[3] = ((utmp[2] >> 4) & KMASK2) | (((utmp[1] >> 6) & KMASK3) << 4);
            let uaux = utmp[1] & KMASK1;
            utmp[1] = (utmp[2] & KMASK2) | (((utmp[0] >> 6) & KMASK3) << 4);
            utmp[2] = uaux;
            utmp[0] &= KMASK1;
            let mins_and_scales = _mm256_cvtepu8_epi16(_mm_set_epi32(
                utmp[3] as i32,
                utmp[2] as i32,
                utmp[1] as i32,
                utmp[0] as i32,
            ));
            let mins = _mm256_extracti128_si256::<1>(mins_and_scales);
            let sc128 = _mm256_castsi256_si128(mins_and_scales);
            let scales = _mm256_set_m128i(sc128, sc128);
            let q = x.wrapping_add(16);
            let mut sumi = [_mm256_setzero_si256(); R];
            for j in 0..4 {
                let sel_l = (4 * j as i16) | ((4 * j as i16 + 1) << 8);
                let sel_h = (4 * j as i16 + 2) | ((4 * j as i16 + 3) << 8);
                let scale_l = _mm256_shuffle_epi8(scales, _mm256_set1_epi16(sel_l));
                let scale_h = _mm256_shuffle_epi8(scales, _mm256_set1_epi16(sel_h));
                let bits = load256(q.wrapping_add(32 * j));
                let q4l = _mm256_and_si256(bits, m4);
                let q4h = _mm256_and_si256(_mm256_srli_epi16::<4>(bits), m4);
                for r in 0..R {
                    let y = ys[r].wrapping_add(b * Q8K_BYTES + 4 + 64 * j);
                    let pl = _mm256_madd_epi16(scale_l, _mm256_maddubs_epi16(q4l, load256(y)));
                    let ph = _mm256_madd_epi16(
                        scale_h,
                        _mm256_maddubs_epi16(q4h, load256(y.wrapping_add(32))),
                    );
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_add_epi32(pl, ph));
                }
            }
            for r in 0..R {
                let yb = ys[r].wrapping_add(b * Q8K_BYTES);
                let yd = f32_at(yb);
                let bsums = load256(yb.wrapping_add(Q8K_SUMS));
                let q8s = _mm_hadd_epi16(
                    _mm256_castsi256_si128(bsums),
                    _mm256_extracti128_si256::<1>(bsums),
                );
                let prod = _mm_madd_epi16(mins, q8s);
                acc[r] =
                    _mm256_fmadd_ps(_mm256_set1_ps(d * yd), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
                acc[r] = _mm256_fmadd_ps(
                    _mm256_set1_ps(-dmin * yd),
                    _mm256_cvtepi32_ps(_mm256_zextsi128_si256(prod)),
                    acc[r],
                );
            }
        }
        for r in 0..R {
            out[r] = hsum8(acc[r]);
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn q6k<const R: usize>(
        blocks: usize,
        w: *const u8,
        ys: &[*const u8; 4],
        out: &mut [f32],
    ) {
        let m4 = _mm256_set1_epi8(0xF);
        let m2 = _mm256_set1_epi8(3);
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..blocks {
            let x = w.wrapping_add(b * 210);
            let d = f16_at(x.wrapping_add(208));
            let scales = _mm_loadu_si128(x.wrapping_add(192) as *const __m128i);
            let mut sumi = [_mm256_setzero_si256(); R];
            for j in 0..2 {
                let ql = x.wrapping_add(64 * j);
                let qh = load256(x.wrapping_add(128 + 32 * j));
                let bits1 = load256(ql);
                let bits2 = load256(ql.wrapping_add(32));
                let h0 = _mm256_slli_epi16::<4>(_mm256_and_si256(qh, m2));
                let h1 = _mm256_slli_epi16::<4>(_mm256_and_si256(_mm256_srli_epi16::<2>(qh), m2));
                let h2 = _mm256_slli_epi16::<4>(_mm256_and_si256(_mm256_srli_epi16::<4>(qh), m2));
                let h3 = _mm256_slli_epi16::<4>(_mm256_and_si256(_mm256_srli_epi16::<6>(qh), m2));
                let q = [
                    _mm256_or_si256(_mm256_and_si256(bits1, m4), h0),
                    _mm256_or_si256(_mm256_and_si256(bits2, m4), h1),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(bits1), m4), h2),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(bits2), m4), h3),
                ];
                for (i, qi) in q.iter().enumerate() {
                    // Scales 2s and 2s+1 (s = 4j + i), each spread over 8 lanes.
                    let s = (4 * j + i) as i64;
                    let sel = _mm_set_epi64x(
                        (2 * s + 1) * 0x0101_0101_0101_0101,
                        (2 * s) * 0x0101_0101_0101_0101,
                    );
                    let sc = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, sel));
                    for r in 0..R {
                        let y = ys[r].wrapping_add(b * Q8K_BYTES + 4 + 128 * j + 32 * i);
                        let p = _mm256_madd_epi16(sc, _mm256_maddubs_epi16(*qi, load256(y)));
                        sumi[r] = _mm256_add_epi32(sumi[r], p);
                    }
                }
            }
            // The stored 6-bit values are offset by 32: subtract
            // 32 · Σ scale_g · (sum of the 16 activations of group g).
            let scales16 = _mm256_cvtepi8_epi16(scales);
            for r in 0..R {
                let yb = ys[r].wrapping_add(b * Q8K_BYTES);
                let yd = f32_at(yb);
                let corr = _mm256_madd_epi16(scales16, load256(yb.wrapping_add(Q8K_SUMS)));
                let s = _mm256_sub_epi32(sumi[r], _mm256_slli_epi32::<5>(corr));
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * yd), _mm256_cvtepi32_ps(s), acc[r]);
            }
        }
        for r in 0..R {
            out[r] = hsum8(acc[r]);
        }
    }

    const Q8_0_BYTES: usize = 4 + 32;
    const Q8_1_BYTES: usize = 8 + 32;

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn q8_0<const R: usize>(
        blocks: usize,
        w: *const u8,
        ys: &[*const u8; 4],
        out: &mut [f32],
    ) {
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..blocks {
            let x = w.wrapping_add(b * 34);
            let d = f16_at(x);
            let bx = load256(x.wrapping_add(2));
            let ax = _mm256_sign_epi8(bx, bx);
            for r in 0..R {
                let y = ys[r].wrapping_add(b * Q8_0_BYTES);
                let q = dot_i8_abs(ax, bx, load256(y.wrapping_add(4)));
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * f32_at(y)), q, acc[r]);
            }
        }
        for r in 0..R {
            out[r] = hsum8(acc[r]);
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn q4_0<const R: usize>(
        blocks: usize,
        w: *const u8,
        ys: &[*const u8; 4],
        out: &mut [f32],
    ) {
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..blocks {
            let x = w.wrapping_add(b * 18);
            let d = f16_at(x);
            let bx = _mm256_sub_epi8(
                bytes_from_nibbles_32(x.wrapping_add(2)),
                _mm256_set1_epi8(8),
            );
            let ax = _mm256_sign_epi8(bx, bx);
            for r in 0..R {
                let y = ys[r].wrapping_add(b * Q8_0_BYTES);
                let q = dot_i8_abs(ax, bx, load256(y.wrapping_add(4)));
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * f32_at(y)), q, acc[r]);
            }
        }
        for r in 0..R {
            out[r] = hsum8(acc[r]);
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn q5_0<const R: usize>(
        blocks: usize,
        w: *const u8,
        ys: &[*const u8; 4],
        out: &mut [f32],
    ) {
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..blocks {
            let x = w.wrapping_add(b * 22);
            let d = f16_at(x);
            let lo = bytes_from_nibbles_32(x.wrapping_add(6));
            // A clear fifth bit means the value is nibble − 16: set the top
            // four bits to make the byte that negative number.
            let hi = _mm256_andnot_si256(
                bytes_from_bits_32(x.wrapping_add(2)),
                _mm256_set1_epi8(0xF0u8 as i8),
            );
            let bx = _mm256_or_si256(lo, hi);
            let ax = _mm256_sign_epi8(bx, bx);
            for r in 0..R {
                let y = ys[r].wrapping_add(b * Q8_0_BYTES);
                let q = dot_i8_abs(ax, bx, load256(y.wrapping_add(4)));
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * f32_at(y)), q, acc[r]);
            }
        }
        for r in 0..R {
            out[r] = hsum8(acc[r]);
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn q4_1<const R: usize>(
        blocks: usize,
        w: *const u8,
        ys: &[*const u8; 4],
        out: &mut [f32],
    ) {
        let mut acc = [_mm256_setzero_ps(); R];
        let mut mins = [0f32; R];
        let ones = _mm256_set1_epi16(1);
        for b in 0..blocks {
            let x = w.wrapping_add(b * 20);
            let d = f16_at(x);
            let m = f16_at(x.wrapping_add(2));
            let qx = bytes_from_nibbles_32(x.wrapping_add(4));
            for r in 0..R {
                let y = ys[r].wrapping_add(b * Q8_1_BYTES);
                let dot =
                    _mm256_madd_epi16(ones, _mm256_maddubs_epi16(qx, load256(y.wrapping_add(8))));
                acc[r] = _mm256_fmadd_ps(
                    _mm256_set1_ps(d * f32_at(y)),
                    _mm256_cvtepi32_ps(dot),
                    acc[r],
                );
                mins[r] += m * f32_at(y.wrapping_add(4));
            }
        }
        for r in 0..R {
            out[r] = hsum8(acc[r]) + mins[r];
        }
    }

    // The activation layouts these kernels assume.
    const _: () = assert!(Q8K_BYTES == 308 && Q8_0_BYTES == 36 && Q8_1_BYTES == 40);
}
