//! Float helpers, written with AVX where the build has it (x86-64-v3: it
//! does) beside a portable loop, each giving exactly the bits of its plain
//! loop: dot products (attention's several keys at a time), attention's
//! weighted sum of values, and the max and rounding that encode activations
//! as bytes. Depends on nothing else in the crate.
#![allow(unsafe_code)]

/// f32 dot product: eight lanes, each a multiply then an add per element,
/// reduced in one fixed order (the [`dot_f32_rows`] of one row).
pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    dot_f32_rows(&a[..n], [&b[..n]])[0]
}

/// [`dot_f32`] of `a` with `N` rows at once. One dot waits on its single
/// chain of adds; `N` chains side by side keep the adders busy. Each row's
/// sum runs in exactly `dot_f32`'s order (a multiply, then an add, per
/// lane; the same final reduction), so the results are its bits.
pub(crate) fn dot_f32_rows<const N: usize>(a: &[f32], rows: [&[f32]; N]) -> [f32; N] {
    let len = a.len();
    let rows = rows.map(|r| &r[..len]);
    let chunks = len / 8;
    let mut acc = [[0f32; 8]; N];
    #[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
    {
        use std::arch::x86_64::*;
        // SAFETY: AVX is enabled at compile time; every load reads 8 floats
        // inside `a` or a row (both `len` long, c < chunks = len / 8).
        unsafe {
            let mut v = [_mm256_setzero_ps(); N];
            for c in 0..chunks {
                let x = _mm256_loadu_ps(a.as_ptr().add(c * 8));
                for (v, row) in v.iter_mut().zip(&rows) {
                    let y = _mm256_loadu_ps(row.as_ptr().add(c * 8));
                    // A multiply, then an add: `acc[i] += x[i] * y[i]`.
                    *v = _mm256_add_ps(*v, _mm256_mul_ps(x, y));
                }
            }
            for (acc, v) in acc.iter_mut().zip(v) {
                _mm256_storeu_ps(acc.as_mut_ptr(), v);
            }
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx")))]
    for c in 0..chunks {
        let x = &a[c * 8..c * 8 + 8];
        for (acc, row) in acc.iter_mut().zip(&rows) {
            let y = &row[c * 8..c * 8 + 8];
            for i in 0..8 {
                acc[i] += x[i] * y[i];
            }
        }
    }
    let mut out = [0f32; N];
    for ((o, acc), row) in out.iter_mut().zip(&acc).zip(&rows) {
        let mut tail = 0f32;
        for (x, y) in a[chunks * 8..].iter().zip(&row[chunks * 8..]) {
            tail += x * y;
        }
        let s = (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]);
        *o = s + tail;
    }
    out
}

/// The largest magnitude in `xs`, NaNs skipped: `fold(0, max(|x|))`.
pub(crate) fn max_abs(xs: &[f32]) -> f32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
    let (m, rest) = {
        use std::arch::x86_64::*;
        let chunks = xs.len() / 8;
        // SAFETY: AVX is enabled at compile time; each load reads 8 floats
        // inside `xs` (c < chunks = len / 8).
        let lanes = unsafe {
            let sign = _mm256_set1_ps(-0.0);
            let mut acc = _mm256_setzero_ps();
            for c in 0..chunks {
                let a = _mm256_andnot_ps(sign, _mm256_loadu_ps(xs.as_ptr().add(c * 8)));
                // The second operand comes back where either is NaN: `acc`.
                acc = _mm256_max_ps(a, acc);
            }
            let mut lanes = [0f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), acc);
            lanes
        };
        (lanes.iter().fold(0f32, |m, &x| m.max(x)), &xs[chunks * 8..])
    };
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx")))]
    let (m, rest) = (0f32, xs);
    rest.iter().fold(m, |m, x| m.max(x.abs()))
}

/// `out[i] = (xs[i] * scale).round() as i8` for every value: Rust's
/// rounding (half away from zero) and saturating cast, where NaN becomes
/// `nan` (0 for the plain cast, 127 for `.min(127.0)` before it), 32 values
/// a loop.
pub(crate) fn round_to_i8(xs: &[f32], scale: f32, nan: i8, out: &mut [u8]) {
    let n = xs.len().min(out.len());
    let mut done = 0;
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    {
        use std::arch::x86_64::*;
        // SAFETY: AVX2 is enabled at compile time; the loads read 32 floats
        // of `xs` and the store writes 32 bytes of `out` below `n`.
        unsafe {
            let s = _mm256_set1_ps(scale);
            let sign = _mm256_set1_ps(-0.0);
            let half = _mm256_set1_ps(0.5);
            let one = _mm256_set1_ps(1.0);
            let top = _mm256_set1_ps(127.0);
            let nan_at = _mm256_set1_ps(nan as f32);
            let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
            let round8 = |at: usize| {
                let p = _mm256_mul_ps(_mm256_loadu_ps(xs.as_ptr().add(at)), s);
                let t = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(p);
                // |p - t| is exact; a half or more moves one away from zero.
                let frac = _mm256_andnot_ps(sign, _mm256_sub_ps(p, t));
                let away = _mm256_cmp_ps::<_CMP_GE_OQ>(frac, half);
                let step = _mm256_and_ps(away, _mm256_or_ps(one, _mm256_and_ps(p, sign)));
                // NaN compares false above; `min` caps at 127 (the cast
                // saturates there too) and returns 127 for NaN, then NaN
                // lanes take `nan`.
                let r = _mm256_min_ps(_mm256_add_ps(t, step), top);
                let r = _mm256_blendv_ps(r, nan_at, _mm256_cmp_ps::<_CMP_UNORD_Q>(p, p));
                _mm256_cvtps_epi32(r)
            };
            while done + 32 <= n {
                let a = _mm256_packs_epi32(round8(done), round8(done + 8));
                let b = _mm256_packs_epi32(round8(done + 16), round8(done + 24));
                let bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b), order);
                _mm256_storeu_si256(out.as_mut_ptr().add(done) as *mut __m256i, bytes);
                done += 32;
            }
        }
    }
    for (q, &x) in out[done..n].iter_mut().zip(&xs[done..n]) {
        let p = x * scale;
        *q = (if p.is_nan() { nan } else { p.round() as i8 }) as u8;
    }
}

/// `xs[i] *= scale` for every value, and the largest result with NaNs
/// skipped (`fold(-inf, f32::max)`), eight values an instruction: the plain
/// loop's products, and its maximum (up to the sign of a zero maximum,
/// which no difference from it can see).
pub(crate) fn scale_and_max(xs: &mut [f32], scale: f32) -> f32 {
    let mut done = 0;
    let mut max = f32::NEG_INFINITY;
    #[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
    // SAFETY: AVX is enabled at compile time; each load and store covers
    // 8 floats of `xs` below its length.
    unsafe {
        use std::arch::x86_64::*;
        let n = xs.len();
        let p = xs.as_mut_ptr();
        let s = _mm256_set1_ps(scale);
        let mut acc = _mm256_set1_ps(f32::NEG_INFINITY);
        while done + 8 <= n {
            let v = _mm256_mul_ps(_mm256_loadu_ps(p.add(done)), s);
            _mm256_storeu_ps(p.add(done), v);
            // The second operand comes back where either is NaN: `acc`.
            acc = _mm256_max_ps(v, acc);
            done += 8;
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), acc);
        max = lanes.iter().fold(max, |m, &x| m.max(x));
    }
    for v in &mut xs[done..] {
        *v *= scale;
        max = max.max(*v);
    }
    max
}

/// `xs[i] = (xs[i] - sub).exp()` for every value, eight at a time where
/// the build has AVX2 and FMA: the steps of glibc's `expf` (the FMA variant
/// its x86-64 libm picks on such CPUs) in vector form — `x·32/ln 2` rounded
/// to an integer k by adding 1.5·2^52, `2^(k/32)` from the same 32-entry
/// table, the same cubic in the remainder, the same three fused
/// multiply-adds, in double precision, rounded once to f32 — so the bits of
/// `f32::exp`; the values that need its slow path (|x| ≥ 88, NaN, ±inf)
/// and the tail take `f32::exp` itself.
pub(crate) fn exp_sub_in_place(xs: &mut [f32], sub: f32) {
    let mut done = 0;
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    // SAFETY: AVX2 and FMA are enabled at compile time; each load and store
    // covers 8 floats of `xs` below its length.
    unsafe {
        use std::arch::x86_64::*;
        let n = xs.len();
        let p = xs.as_mut_ptr();
        let by = _mm256_set1_ps(sub);
        while done + 8 <= n {
            let x = _mm256_sub_ps(_mm256_loadu_ps(p.add(done)), by);
            _mm256_storeu_ps(p.add(done), expf8(x));
            done += 8;
        }
    }
    for v in &mut xs[done..] {
        *v = (*v - sub).exp();
    }
}

/// SiLU of the gate times up, in place: `g = g / (1 + exp(-g)) * u` per
/// value with [`exp_sub_in_place`]'s exp — the plain loop's bits, eight
/// values an instruction.
pub(crate) fn silu_mul(gate: &mut [f32], up: &[f32]) {
    let n = gate.len().min(up.len());
    let mut done = 0;
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    // SAFETY: AVX2 and FMA are enabled at compile time; each load and store
    // covers 8 floats of `gate` or `up` below `n`.
    unsafe {
        use std::arch::x86_64::*;
        let g = gate.as_mut_ptr();
        let one = _mm256_set1_ps(1.0);
        let sign = _mm256_set1_ps(-0.0);
        while done + 8 <= n {
            let x = _mm256_loadu_ps(g.add(done));
            let e = expf8(_mm256_xor_ps(x, sign));
            let u = _mm256_loadu_ps(up.as_ptr().add(done));
            let r = _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), u);
            _mm256_storeu_ps(g.add(done), r);
            done += 8;
        }
    }
    for (g, u) in gate[done..n].iter_mut().zip(&up[done..n]) {
        *g = *g / (1.0 + (-*g).exp()) * u;
    }
}

/// `f32::exp` of eight values: libm's fast path in vector form
/// ([`glibc_expf8`]), the lanes that take its slow path through `f32::exp`.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
))]
#[inline(always)]
unsafe fn expf8(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let e = glibc_expf8(x);
    let slow = slow_lanes(x);
    if slow == 0 {
        return e;
    }
    let (mut out, mut xs) = ([0f32; 8], [0f32; 8]);
    _mm256_storeu_ps(out.as_mut_ptr(), e);
    _mm256_storeu_ps(xs.as_mut_ptr(), x);
    for (lane, (o, v)) in out.iter_mut().zip(xs).enumerate() {
        if slow & (1 << lane) != 0 {
            *o = v.exp();
        }
    }
    _mm256_loadu_ps(out.as_ptr())
}

/// glibc's `__exp2f_data.tab`: `bits(2^(i/32)) - (i << 47)`.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
))]
static EXP2F_TAB: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];

/// Lanes (bit i for lane i) where glibc's `expf` leaves its fast path:
/// the top 12 bits of |x| at or above those of 88.0 (NaN and ±inf too).
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
))]
#[inline(always)]
unsafe fn slow_lanes(x: std::arch::x86_64::__m256) -> i32 {
    use std::arch::x86_64::*;
    let top = _mm256_and_si256(
        _mm256_srli_epi32::<20>(_mm256_castps_si256(x)),
        _mm256_set1_epi32(0x7ff),
    );
    let slow = _mm256_cmpgt_epi32(top, _mm256_set1_epi32(0x429));
    _mm256_movemask_ps(_mm256_castsi256_ps(slow))
}

/// glibc's `expf` fast path on eight values (right where [`slow_lanes`]
/// is clear).
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
))]
#[inline(always)]
unsafe fn glibc_expf8(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    // 32/ln 2, 1.5·2^52, the cubic scaled by 32^-3, 32^-2, 32^-1.
    let inv_ln2_n = _mm256_set1_pd(f64::from_bits(0x40471547652b82fe));
    let shift = _mm256_set1_pd(f64::from_bits(0x4338000000000000));
    let c0 = _mm256_set1_pd(f64::from_bits(0x3ebc6af84b912394));
    let c1 = _mm256_set1_pd(f64::from_bits(0x3f2ebfce50fac4f3));
    let c2 = _mm256_set1_pd(f64::from_bits(0x3f962e42ff0c52d6));
    let one = _mm256_set1_pd(1.0);
    let half = |xd: __m256d| {
        let kd_shifted = _mm256_fmadd_pd(inv_ln2_n, xd, shift);
        let ki = _mm256_castpd_si256(kd_shifted);
        let kd = _mm256_sub_pd(kd_shifted, shift);
        let r = _mm256_fmsub_pd(inv_ln2_n, xd, kd);
        let idx = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
        let t = _mm256_i64gather_epi64::<8>(EXP2F_TAB.as_ptr() as *const i64, idx);
        let s = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64::<47>(ki)));
        let z = _mm256_fmadd_pd(r, c0, c1);
        let r2 = _mm256_mul_pd(r, r);
        let y = _mm256_fmadd_pd(r, c2, one);
        let y = _mm256_fmadd_pd(z, r2, y);
        _mm256_cvtpd_ps(_mm256_mul_pd(y, s))
    };
    let lo = half(_mm256_cvtps_pd(_mm256_castps256_ps128(x)));
    let hi = half(_mm256_cvtps_pd(_mm256_extractf128_ps::<1>(x)));
    _mm256_set_m128(hi, lo)
}

/// `out[d] += weights[s] * row_s[d]` for every row s in order, where row s
/// starts at `values[s * stride]` — the plain loop's multiply-then-add per
/// element in the same order (so its bits), with 64 outputs held in
/// registers across all rows instead of loaded and stored for each.
pub(crate) fn add_weighted_rows(out: &mut [f32], weights: &[f32], values: &[f32], stride: usize) {
    const W: usize = 64;
    let d = out.len();
    let mut c0 = 0;
    while c0 + W <= d {
        let mut acc = [0f32; W];
        acc.copy_from_slice(&out[c0..c0 + W]);
        for (s, &w) in weights.iter().enumerate() {
            let v = &values[s * stride + c0..s * stride + c0 + W];
            for i in 0..W {
                acc[i] += w * v[i];
            }
        }
        out[c0..c0 + W].copy_from_slice(&acc);
        c0 += W;
    }
    if c0 < d {
        for (s, &w) in weights.iter().enumerate() {
            let v = &values[s * stride + c0..s * stride + d];
            for (o, &v) in out[c0..].iter_mut().zip(v) {
                *o += w * v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::sampling::Rng::new(seed);
        (0..n)
            .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
            .collect()
    }

    /// The dot product as first written: eight accumulators in a plain
    /// loop, then the tail, then the fixed reduction.
    fn plain_dot(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0f32; 8];
        let mut ca = a.chunks_exact(8);
        let mut cb = b.chunks_exact(8);
        for (x, y) in (&mut ca).zip(&mut cb) {
            for i in 0..8 {
                acc[i] += x[i] * y[i];
            }
        }
        let mut tail = 0f32;
        for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
            tail += x * y;
        }
        let s = (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]);
        s + tail
    }

    #[test]
    fn attention_dots_side_by_side_keep_the_single_dots_bits() {
        for len in [128, 64, 13, 8, 3] {
            let q = values(len, 1);
            let keys: Vec<Vec<f32>> = (0..4).map(|k| values(len, 10 + k as u64)).collect();
            let four = dot_f32_rows(q.as_slice(), [&keys[0], &keys[1], &keys[2], &keys[3]]);
            for (k, d) in keys.iter().zip(four) {
                let plain = plain_dot(&q, k).to_bits();
                assert_eq!(d.to_bits(), plain, "length {len}");
                assert_eq!(dot_f32(&q, k).to_bits(), plain, "length {len}");
            }
        }
    }

    #[test]
    fn weighted_rows_in_registers_keep_the_plain_loops_bits() {
        // Head sizes 128 and 64 (all in registers), 80 and 13 (a tail).
        for (d, stride) in [(128, 256), (64, 64), (80, 96), (13, 13)] {
            let rows = 37;
            let values_ = values(rows * stride, 3);
            let weights = values(rows, 4);
            let start = values(d, 5);
            let mut plain = start.clone();
            for (s, &w) in weights.iter().enumerate() {
                for (o, &v) in plain.iter_mut().zip(&values_[s * stride..s * stride + d]) {
                    *o += w * v;
                }
            }
            let mut fast = start.clone();
            add_weighted_rows(&mut fast, &weights, &values_, stride);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&plain), "head size {d}");
        }
    }

    /// Every 29th of all 2^32 bit patterns (NaNs, infinities, subnormals
    /// and every exponent included) and the values either side of the
    /// slow path's edges: the vector exp gives `f32::exp`'s bits.
    #[test]
    fn vector_exp_gives_the_libm_bits() {
        let edges = [88.0f32, 88.72284, 103.27893, 103.97208, 0.0, 1e-30];
        let mut xs: Vec<f32> = Vec::with_capacity(1 << 20);
        let check = |xs: &mut Vec<f32>| {
            let mut fast = xs.clone();
            exp_sub_in_place(&mut fast, 0.0);
            for (x, f) in xs.iter().zip(&fast) {
                let want = (x - 0.0).exp();
                assert_eq!(
                    f.to_bits(),
                    want.to_bits(),
                    "exp({x:e}) = {want:e}, got {f:e}"
                );
            }
            xs.clear();
        };
        for e in edges {
            for d in -64i32..64 {
                for v in [e, -e] {
                    xs.push(f32::from_bits(v.to_bits().wrapping_add_signed(d)));
                }
            }
        }
        check(&mut xs);
        let mut bits = 0u64;
        while bits <= u32::MAX as u64 {
            xs.push(f32::from_bits(bits as u32));
            if xs.len() == 1 << 20 {
                check(&mut xs);
            }
            bits += 29;
        }
        check(&mut xs);
    }

    #[test]
    fn softmax_exps_and_silu_keep_the_plain_loops_bits() {
        for n in [1usize, 7, 8, 13, 400] {
            // Scores as attention has them, some far below the max.
            let scores: Vec<f32> = values(n, 7).iter().map(|v| v * 120.0).collect();
            let max = scores.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            let mut fast = scores.clone();
            exp_sub_in_place(&mut fast, max);
            for (s, f) in scores.iter().zip(&fast) {
                assert_eq!(f.to_bits(), (s - max).exp().to_bits(), "score {s}");
            }
            // Gates of every size, up to where exp(-g) overflows.
            let gate: Vec<f32> = values(n, 8).iter().map(|v| v * 200.0).collect();
            let up = values(n, 9);
            let mut plain = gate.clone();
            for (g, u) in plain.iter_mut().zip(&up) {
                *g = *g / (1.0 + (-*g).exp()) * u;
            }
            let mut fast = gate.clone();
            silu_mul(&mut fast, &up);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&plain), "{n} values");
        }
    }

    #[test]
    fn scaled_scores_and_their_max_are_the_plain_loops() {
        for n in [0usize, 1, 7, 8, 9, 37, 400] {
            let mut xs: Vec<f32> = values(n, 11).iter().map(|v| v * 40.0).collect();
            if n > 3 {
                xs[2] = f32::NAN;
            }
            let mut plain = xs.clone();
            let mut want = f32::NEG_INFINITY;
            for v in plain.iter_mut() {
                *v *= 0.088388;
                want = want.max(*v);
            }
            let got = scale_and_max(&mut xs, 0.088388);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&xs), bits(&plain), "{n} values");
            assert_eq!(got.to_bits(), want.to_bits(), "{n} values");
        }
    }
}
