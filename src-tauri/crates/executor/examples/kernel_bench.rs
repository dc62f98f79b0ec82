//! Throughput of the executor's quantized multiply on one weight matrix, by
//! tokens per pass: the kernel-level view behind the executor bench's batch
//! ratios (how much an extra token in a pass costs).
//!
//! `kernel_bench [--threads N] [--shape ROWSxCOLS] [--only Q4K] [--tokens 1,4]`
//! prints, per format and token count, GMAC/s and the time per pass
//! relative to one token (best of several runs): the file's rows, groups
//! of eight rows once per byte dot product the CPU has (AVX2, and VNNI
//! where present; with 512-bit VNNI, its kernels taking pairs of groups
//! and single groups, `pairs` and `singles`), and with 512-bit VNNI the
//! 16-row layout the executor multiplies Q4_K and Q6_K in (`Paired16`).
//! With 512-bit VNNI it first measures the threads' peak `vpdpbusd` rate
//! and prints each VNNI row's GMAC/s as a share of it (the arithmetic
//! ceiling; the kernels also load, unpack and scale).

use std::time::Instant;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use lookahead_executor::quant::{
    allow_vnni, byte_dot, multiply, pair_groups_from, vnni_peak_macs, wide_vnni, ByteDot, QWeight,
    WeightFormat, WeightLayout,
};

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = lookahead_executor::Rng::new(seed);
    (0..n)
        .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
        .collect()
}

fn weight(dtype: GgmlDType, rows: usize, cols: usize) -> QWeight {
    let w = Tensor::from_vec(values(rows * cols, 1), (rows, cols), &Device::Cpu)
        .expect("weight tensor");
    let q = QTensor::quantize(&w, dtype).expect("quantize");
    let bytes = q.data().expect("bytes").to_vec();
    let format = WeightFormat::from_ggml(dtype).expect("format");
    QWeight::new(format, rows, cols, bytes).expect("sizes agree")
}

fn main() {
    let mut threads = 1;
    let mut shapes = vec![(8960, 1536), (1536, 8960)];
    let mut only: Option<String> = None;
    let mut token_counts = vec![1usize, 2, 4, 6, 8, 16, 32, 128];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match a.as_str() {
            "--threads" => threads = value().parse().expect("a number"),
            // e.g. `--only Q6K`
            "--only" => only = Some(value()),
            // e.g. `--tokens 1,4`
            "--tokens" => {
                token_counts = value()
                    .split(',')
                    .map(|t| t.parse().expect("a number"))
                    .collect()
            }
            "--shape" => {
                let v = value();
                let (r, c) = v.split_once('x').expect("ROWSxCOLS");
                shapes = vec![(r.parse().expect("rows"), c.parse().expect("cols"))];
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    // The 512-bit VNNI ceiling with every thread of the pool busy at once
    // (best of five), which the VNNI rows' GMAC/s are read against.
    let peak = (0..5)
        .filter_map(|_| {
            pool.broadcast(|_| vnni_peak_macs(20_000_000))
                .into_iter()
                .sum::<Option<f64>>()
        })
        .reduce(f64::max);
    if let Some(p) = peak {
        println!(
            "512-bit VNNI peak, {threads} thread(s): {:.1} GMAC/s (vpdpbusd alone)",
            p / 1e9
        );
    }
    // (format, arrangement): 0 the file's rows, 1 groups of eight rows,
    // 2 what the executor multiplies (where that is another layout: Q4_K
    // and Q6_K 16 rows a load with 512-bit VNNI).
    for (dtype, arrangement) in [
        (GgmlDType::Q4K, 0),
        (GgmlDType::Q4K, 1),
        (GgmlDType::Q4K, 2),
        (GgmlDType::Q6K, 0),
        (GgmlDType::Q6K, 1),
        (GgmlDType::Q6K, 2),
        // The 0.5B helper's format: kept 5-bit and interleaved where the
        // CPU has 512-bit VNNI (only that family reads it), else widened.
        (GgmlDType::Q5_0, 2),
    ] {
        if only.as_ref().is_some_and(|o| *o != format!("{dtype:?}")) {
            continue;
        }
        for &(rows, cols) in &shapes {
            let w = weight(dtype, rows, cols);
            let w = match arrangement {
                0 => w,
                1 => w.in_groups_of_eight(),
                _ => w.for_multiply(),
            };
            let layout = w.layout();
            if arrangement == 2 && dtype != GgmlDType::Q5_0 && layout == WeightLayout::Interleaved8
            {
                continue;
            }
            allow_vnni(true);
            // (byte dot product, pairs of row groups from this many
            // tokens): AVX2 (except for 5-bit Q5_0, which only the 512-bit
            // kernels read), VNNI where present, and with 512-bit VNNI both
            // ways of grouping rows.
            let mut dots = Vec::new();
            if w.format() != WeightFormat::Q5_0 && layout != WeightLayout::Paired16 {
                dots.push((ByteDot::Avx2, 1));
            }
            if layout == WeightLayout::Paired16 {
                dots.push((ByteDot::Vnni, 1));
            } else if arrangement > 0 && byte_dot() == ByteDot::Vnni {
                dots.push((ByteDot::Vnni, 1));
                if wide_vnni() {
                    dots.push((ByteDot::Vnni, usize::MAX));
                }
            }
            for (dot, pairs_from) in dots {
                allow_vnni(dot == ByteDot::Vnni);
                pair_groups_from(pairs_from);
                let grouping = match (dot, pairs_from) {
                    _ if layout == WeightLayout::Paired16 => "",
                    (ByteDot::Vnni, 1) if wide_vnni() => " pairs",
                    (ByteDot::Vnni, usize::MAX) => " singles",
                    _ => "",
                };
                let mut one = 0f64;
                for &tokens in &token_counts {
                    let x = values(tokens * cols, 2);
                    let reps = (256 / tokens).max(8);
                    pool.install(|| multiply(&w, &x));
                    let mut times: Vec<f64> = (0..reps)
                        .map(|_| {
                            let t = Instant::now();
                            std::hint::black_box(pool.install(|| multiply(&w, &x)));
                            t.elapsed().as_secs_f64()
                        })
                        .collect();
                    times.sort_by(f64::total_cmp);
                    // The fastest run: a virtual machine's noise only ever adds time.
                    let t = times[0];
                    if tokens == 1 {
                        one = t;
                    }
                    let gmac = (rows * cols * tokens) as f64 / t / 1e9;
                    let of_peak = match peak {
                        Some(p) if dot == ByteDot::Vnni => {
                            format!("  {:>3.0}% of peak", gmac * 1e11 / p)
                        }
                        _ => String::new(),
                    };
                    println!(
                    "{dtype:?} {layout:?} {dot:?}{grouping} {rows}x{cols} tokens {tokens:>3}: {:>8.2} ms  {gmac:>6.1} GMAC/s  {:>5.2}x one token{of_peak}",
                    t * 1e3,
                    t / one
                );
                }
            }
        }
    }
}
