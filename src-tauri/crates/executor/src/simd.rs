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
}
