//! Measures the batched executor against mistral.rs 0.8.1 on the same GGUF
//! files, in one run:
//!
//! - prefill and decode tokens/s, executor and mistral.rs, per model, with
//!   the memory-bandwidth ceiling (weight bytes per token at the read
//!   bandwidth measured on this machine);
//! - a ragged batch of 4 branches (different lengths) against 1 branch;
//! - verifying 5 drafted tokens against one decode step, and a prefill,
//!   with each byte dot product the CPU has (AVX2; VNNI where present, and
//!   with 512-bit VNNI its pairs of row groups for every pass beside the
//!   executor's measured choice; `--groups-of-eight` loads Q4_K and Q6_K
//!   without the 16-row layout, for an A/B of whole runs);
//! - with 512-bit VNNI, decode of each model with Q4_K and Q6_K in the
//!   16-row layout against groups of eight, in one process;
//! - token-level speculation (draft model, n-gram with and without the
//!   sums' results) against plain greedy decoding on a GSM8K-style
//!   question, with acceptance;
//! - the draft's cost ratio c (draft ms/token ÷ target ms/token) with its
//!   full output matrix and with shortlist heads of the first N tokens
//!   (`--head-tokens`), and what each does to draft-model speculation.
//!
//! ```text
//! cargo run --example executor_bench -p lookahead-engine -- \
//!     [--models DIR] [--target FILE] [--draft FILE] [--smol FILE] \
//!     [--prompt-tokens 128] [--decode-tokens 32] [--sd-tokens 128] \
//!     [--only smol,draft,target,batch,sd,head] [--no-mistral] \
//!     [--head-tokens 16384,32768,65536] [--profile-verify N [--profile-tokens 6]] [--pass-curve] [--groups-of-eight]
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lookahead_engine::parts::completion_request;
use lookahead_engine::parts::ExecutorGenerator;
use lookahead_engine::parts::{NgramConfig, SpeculationConfig, SpeculativeGenerator};
use lookahead_engine::{CancelFlag, Sampling, StepGenerator, StepRequest};
use lookahead_executor::argmax;
use lookahead_executor::{BatchItem, Executor, ExecutorOptions, KvSequence, LogitsWanted};
use mistralrs::core::Response;
use mistralrs::{GgufModelBuilder, Model, SamplingParams, TokenSource};

const QUESTION: &str = "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?";
/// Filler for prompts of a chosen length.
const FILLER: &str = "In the beginning the committee met every Tuesday to review the budget, the schedule and the list of open questions; each member reported on progress, and the chair wrote the decisions into a notebook that was later copied for everyone. ";

struct Args {
    models: PathBuf,
    target: String,
    draft: String,
    smol: String,
    prompt_tokens: usize,
    decode_tokens: usize,
    sd_tokens: usize,
    only: Vec<String>,
    mistral: bool,
    head_tokens: Vec<usize>,
    /// Only run the batch section's verification pass this many times
    /// (for `perf record`).
    profile_verify: usize,
    /// Tokens in each of those passes (6: five drafted and the pending one;
    /// 1: plain decoding's pass).
    profile_tokens: usize,
    /// Only print the cost of a pass of 1..=9 tokens against one of 1 token
    /// (what a guess of k tokens costs to check), in alternating rounds.
    pass_curve: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        models: lookahead_models::models_dir(),
        target: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf".into(),
        draft: "qwen2.5-coder-0.5b-instruct-awq-q4_k_m.gguf".into(),
        smol: "SmolLM2-135M-Instruct.Q4_1.gguf".into(),
        prompt_tokens: 128,
        decode_tokens: 32,
        sd_tokens: 128,
        only: vec![
            "smol".into(),
            "draft".into(),
            "target".into(),
            "batch".into(),
            "sd".into(),
            "head".into(),
        ],
        mistral: true,
        head_tokens: vec![16_384, 32_768, 65_536],
        profile_verify: 0,
        profile_tokens: 6,
        pass_curve: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--models" => a.models = PathBuf::from(value()),
            "--target" => a.target = value(),
            "--draft" => a.draft = value(),
            "--smol" => a.smol = value(),
            "--prompt-tokens" => a.prompt_tokens = value().parse().expect("a number"),
            "--decode-tokens" => a.decode_tokens = value().parse().expect("a number"),
            "--sd-tokens" => a.sd_tokens = value().parse().expect("a number"),
            "--only" => a.only = value().split(',').map(str::to_string).collect(),
            "--no-mistral" => a.mistral = false,
            "--profile-verify" => a.profile_verify = value().parse().expect("a number"),
            "--profile-tokens" => a.profile_tokens = value().parse().expect("a number"),
            "--pass-curve" => a.pass_curve = true,
            // Q4_K and Q6_K in groups of eight rows even where the CPU has
            // the 16-row layout (for whole-process A/B runs).
            "--groups-of-eight" => lookahead_executor::quant::allow_paired_layout(false),
            "--head-tokens" => {
                a.head_tokens = value()
                    .split(',')
                    .map(|n| n.parse().expect("a number"))
                    .collect()
            }
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn path_of(args: &Args, file: &str) -> PathBuf {
    let p = Path::new(file);
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        args.models.join(file)
    };
    assert!(p.exists(), "model not found: {}", p.display());
    p
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn prompt_of(exec: &Executor, tokens: usize, salt: usize) -> Vec<u32> {
    let text = format!("Note {salt}. {}", FILLER.repeat(tokens / 30 + 2));
    let mut ids = exec.tokenizer().encode(&text).expect("tokenize");
    ids.truncate(tokens);
    ids
}

fn pass(
    exec: &Executor,
    seqs: &mut [KvSequence],
    tokens: &[Vec<u32>],
    wanted: LogitsWanted,
) -> Duration {
    let started = Instant::now();
    let mut items: Vec<BatchItem<'_>> = seqs
        .iter_mut()
        .zip(tokens)
        .map(|(seq, t)| BatchItem {
            seq,
            tokens: t,
            logits: wanted,
        })
        .collect();
    exec.forward(&mut items).expect("forward");
    started.elapsed()
}

/// After a prompt of `prompt_tokens`: the median time of a one-token pass
/// and of a verification pass (the pending token and 5 drafted, logits of
/// all six), ms; the sequence is cut back after each.
fn step_and_verify_ms(exec: &Executor, prompt_tokens: usize) -> (f64, f64) {
    let prompt = prompt_of(exec, prompt_tokens, 9);
    let mut seq = exec.new_sequence();
    pass(
        exec,
        std::slice::from_mut(&mut seq),
        std::slice::from_ref(&prompt),
        LogitsWanted::None,
    );
    let seqs = std::slice::from_mut(&mut seq);
    let step = median_pass(exec, seqs, &[prompt[3..4].to_vec()], LogitsWanted::Last, 7);
    let verify = median_pass(exec, seqs, &[prompt[10..16].to_vec()], LogitsWanted::All, 7);
    (step * 1e3, verify * 1e3)
}

/// The median time of `reps` passes of `tokens` over `seqs`, seconds;
/// each sequence is cut back to its length after every pass.
fn median_pass(
    exec: &Executor,
    seqs: &mut [KvSequence],
    tokens: &[Vec<u32>],
    wanted: LogitsWanted,
    reps: usize,
) -> f64 {
    let lens: Vec<usize> = seqs.iter().map(KvSequence::len).collect();
    let mut times = Vec::new();
    for _ in 0..reps {
        times.push(pass(exec, seqs, tokens, wanted).as_secs_f64());
        for (s, l) in seqs.iter_mut().zip(&lens) {
            s.truncate(*l);
        }
    }
    median(times)
}

/// Executor prefill and greedy decode speed on one sequence.
fn executor_speed(exec: &Executor, prompt_tokens: usize, decode_tokens: usize) -> (f64, f64) {
    let mut prefill = Vec::new();
    let mut decode = Vec::new();
    for rep in 0..3 {
        let prompt = prompt_of(exec, prompt_tokens, rep);
        let mut seq = exec.new_sequence();
        let started = Instant::now();
        let mut items = [BatchItem {
            seq: &mut seq,
            tokens: &prompt,
            logits: LogitsWanted::Last,
        }];
        let logits = exec.forward(&mut items).expect("prefill");
        prefill.push(prompt.len() as f64 / started.elapsed().as_secs_f64());
        let mut next = argmax(logits[0].last().expect("logits"));
        let started = Instant::now();
        for _ in 0..decode_tokens {
            let mut items = [BatchItem {
                seq: &mut seq,
                tokens: std::slice::from_ref(&next),
                logits: LogitsWanted::Last,
            }];
            let l = exec.forward(&mut items).expect("decode");
            next = argmax(l[0].last().expect("logits"));
        }
        decode.push(decode_tokens as f64 / started.elapsed().as_secs_f64());
    }
    (median(prefill), median(decode))
}

struct Mistral {
    rt: tokio::runtime::Runtime,
    model: Model,
}

impl Mistral {
    fn load(path: &Path) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = path.parent().expect("dir").to_string_lossy().into_owned();
        let file = path
            .file_name()
            .expect("file")
            .to_string_lossy()
            .into_owned();
        let model = rt
            .block_on(
                GgufModelBuilder::new(dir, vec![file])
                    .with_token_source(TokenSource::None)
                    .with_prefix_cache_n(None)
                    .with_force_cpu()
                    .build(),
            )
            .expect("mistral.rs loads");
        Self { rt, model }
    }

    /// Wall time of a greedy completion of `max_len` tokens.
    fn time(&self, text: &str, max_len: usize) -> Duration {
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        let mut params = SamplingParams::deterministic();
        params.max_len = Some(max_len);
        let request = completion_request(text.to_string(), params, false, false, tx);
        let sender = self.model.inner().get_sender(None).expect("sender");
        let started = Instant::now();
        self.rt.block_on(async {
            sender.send(request).await.expect("send");
            match rx.recv().await {
                Some(Response::CompletionDone(_)) => {}
                Some(_) => panic!("unexpected mistral.rs response"),
                None => panic!("mistral.rs closed the channel"),
            }
        });
        started.elapsed()
    }
}

/// mistral.rs prefill (one-token completion) and decode speed (the extra
/// time of `decode_tokens` more tokens), same prompts as the executor.
fn mistral_speed(
    path: &Path,
    exec: &Executor,
    prompt_tokens: usize,
    decode_tokens: usize,
) -> (f64, f64) {
    let m = Mistral::load(path);
    let mut prefill = Vec::new();
    let mut decode = Vec::new();
    for rep in 0..2 {
        let text = exec
            .tokenizer()
            .decode(&prompt_of(exec, prompt_tokens, 100 + rep))
            .expect("decode");
        let t1 = m.time(&text, 1);
        let text = exec
            .tokenizer()
            .decode(&prompt_of(exec, prompt_tokens, 200 + rep))
            .expect("decode");
        let t2 = m.time(&text, decode_tokens + 1);
        prefill.push(prompt_tokens as f64 / t1.as_secs_f64());
        decode.push(decode_tokens as f64 / (t2.as_secs_f64() - t1.as_secs_f64()).max(1e-9));
    }
    (median(prefill), median(decode))
}

/// Memory read bandwidth with `threads` threads, GB/s: the best of three
/// sums over 512 MB (far past any cache), read front to back as a decode
/// step reads its weights.
fn read_bandwidth_gbps(threads: usize) -> f64 {
    let words = 64usize << 20;
    let data: Vec<u64> = (0..words as u64).collect();
    let chunk = words.div_ceil(threads.max(1));
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let started = Instant::now();
        let total = std::thread::scope(|s| {
            let readers: Vec<_> = data
                .chunks(chunk)
                .map(|c| s.spawn(move || c.iter().fold(0u64, |a, &x| a.wrapping_add(x))))
                .collect();
            readers
                .into_iter()
                .map(|r| r.join().expect("reader thread"))
                .fold(0u64, u64::wrapping_add)
        });
        std::hint::black_box(total);
        best = best.min(started.elapsed().as_secs_f64());
    }
    (words * 8) as f64 / best / 1e9
}

fn model_section(args: &Args, label: &str, file: &str) {
    let path = path_of(args, file);
    let started = Instant::now();
    let exec = Executor::load(&path, ExecutorOptions::default()).expect("executor loads");
    let load_s = started.elapsed().as_secs_f64();
    let bytes = exec.weight_bytes_per_token() as f64;
    static BANDWIDTH: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let gbps = *BANDWIDTH.get_or_init(|| read_bandwidth_gbps(exec.threads()));
    let ceiling = gbps * 1e9 / bytes;
    let (pf, dc) = executor_speed(&exec, args.prompt_tokens, args.decode_tokens);
    println!(
        "[{label}] {file}: loaded in {load_s:.1} s; {} threads, {:.0} MB weights read per token -> decode ceiling {ceiling:.1} tok/s at {gbps:.1} GB/s (this machine's read bandwidth, measured)",
        exec.threads(),
        bytes / 1e6
    );
    println!(
        "[{label}] executor:   prefill {pf:7.1} tok/s ({} tokens)   decode {dc:6.1} tok/s ({} tokens) = {:.0}% of ceiling",
        args.prompt_tokens,
        args.decode_tokens,
        100.0 * dc / ceiling
    );
    // Where the executor chose single row groups for small passes: decode
    // with pairs of groups for every pass against the choice, alternating,
    // best of two rounds each (same machine state for both).
    use lookahead_executor::quant::{pair_groups_from, pairs_groups_from};
    let chosen = pairs_groups_from();
    if chosen != 1 {
        let mut best = [0f64; 2];
        for _round in 0..2 {
            for (i, from) in [1, chosen].into_iter().enumerate() {
                pair_groups_from(from);
                let (_, decode) = executor_speed(&exec, args.prompt_tokens, args.decode_tokens);
                best[i] = best[i].max(decode);
            }
        }
        pair_groups_from(chosen);
        println!(
            "[{label}] decode, 512-bit kernels pairing row groups for every pass: {:.1} tok/s; from {chosen} tokens (chosen): {:.1} tok/s = {:.2}x",
            best[0],
            best[1],
            best[1] / best[0]
        );
    }
    // Where Q4_K and Q6_K took the 16-row layout: decode, a one-token pass
    // and a verification pass with them in groups of eight, against the
    // 16-row layout, alternating, best of four rounds each. Both sides are
    // copies loaded here, one after the other: when the section's own copy
    // (loaded first) was the 16-row side, it decoded 3-15 % slower in five
    // runs; with two fresh copies that gap went away.
    // (The section's own copy follows the executor's layout measurement;
    // these two are each layout as it is, whatever it measured.)
    use lookahead_executor::quant::{allow_paired_layout, measure_paired_layout, wide_vnni};
    let kernels = lookahead_executor::kernels_in_use();
    if wide_vnni() && (kernels.contains("16 rows a load") || kernels.contains("measured faster")) {
        measure_paired_layout(false);
        allow_paired_layout(false);
        let eight = Executor::load(&path, ExecutorOptions::default()).expect("executor loads");
        allow_paired_layout(true);
        let sixteen = Executor::load(&path, ExecutorOptions::default()).expect("executor loads");
        measure_paired_layout(true);
        // [eight, sixteen] x [decode tok/s, one-token pass ms, verify ms].
        let mut best = [[0f64, f64::INFINITY, f64::INFINITY]; 2];
        for round in 0..4 {
            // Either one first in turn.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let e = [&eight, &sixteen][i];
                let (_, decode) = executor_speed(e, args.prompt_tokens, args.decode_tokens);
                let (step, verify) = step_and_verify_ms(e, args.prompt_tokens);
                best[i][0] = best[i][0].max(decode);
                best[i][1] = best[i][1].min(step);
                best[i][2] = best[i][2].min(verify);
            }
        }
        let [by_eight, by_sixteen] = best;
        println!(
            "[{label}] Q4_K/Q6_K in groups of eight: decode {:.1} tok/s, pass of 1 token {:.1} ms, verify 5 drafted (+1) {:.1} ms = {:.2}x",
            by_eight[0],
            by_eight[1],
            by_eight[2],
            by_eight[2] / by_eight[1]
        );
        println!(
            "[{label}] Q4_K/Q6_K 16 rows a load:     decode {:.1} tok/s, pass of 1 token {:.1} ms, verify 5 drafted (+1) {:.1} ms = {:.2}x (decode {:.2}x, verify time {:.2}x groups of eight)",
            by_sixteen[0],
            by_sixteen[1],
            by_sixteen[2],
            by_sixteen[2] / by_sixteen[1],
            by_sixteen[0] / by_eight[0],
            by_sixteen[2] / by_eight[2]
        );
    }
    if args.mistral {
        drop(exec);
        let exec = Executor::load(&path, ExecutorOptions::default()).expect("executor loads");
        let (mpf, mdc) = mistral_speed(&path, &exec, args.prompt_tokens, args.decode_tokens);
        println!(
            "[{label}] mistral.rs: prefill {mpf:7.1} tok/s               decode {mdc:6.1} tok/s   (executor x{:.1} prefill, x{:.1} decode)",
            pf / mpf,
            dc / mdc
        );
    }
}

/// Cost of one pass of 1..=9 tokens on one sequence against a pass of one
/// token: what checking a guess of k tokens costs (k + 1 tokens). Five
/// alternating rounds, each the median of 8 passes; the median per length.
fn pass_curve(exec: &Executor, seq: &mut KvSequence, base: &[u32]) {
    const LONGEST: usize = 9;
    let mut ms: Vec<Vec<f64>> = vec![Vec::new(); LONGEST];
    for _ in 0..5 {
        for (t, times) in ms.iter_mut().enumerate() {
            let tokens = vec![base[10..11 + t].to_vec()];
            let secs = median_pass(
                exec,
                std::slice::from_mut(seq),
                &tokens,
                LogitsWanted::All,
                8,
            );
            times.push(secs * 1e3);
        }
    }
    let ms: Vec<f64> = ms.into_iter().map(median).collect();
    for (t, m) in ms.iter().enumerate() {
        println!(
            "[batch] pass of {} token(s): {m:.1} ms = {:.2}x one token",
            t + 1,
            m / ms[0]
        );
    }
}

/// Cost of a pass with several branches / several tokens against one
/// decode step of one branch.
fn batch_section(args: &Args) {
    let path = path_of(args, &args.target);
    let exec = Executor::load(&path, ExecutorOptions::default()).expect("executor loads");
    let base = prompt_of(&exec, args.prompt_tokens, 7);
    let mut root = exec.new_sequence();
    pass(
        &exec,
        std::slice::from_mut(&mut root),
        std::slice::from_ref(&base),
        LogitsWanted::None,
    );
    // Four branches of different lengths, like Lookahead's γ+1 targets.
    let extra = prompt_of(&exec, 96, 8);
    let mut branches: Vec<KvSequence> = (0..4)
        .map(|i| {
            let mut s = root.fork();
            pass(
                &exec,
                std::slice::from_mut(&mut s),
                &[extra[..i * 32].to_vec()],
                LogitsWanted::None,
            );
            s
        })
        .collect();
    let lens: Vec<usize> = branches.iter().map(KvSequence::len).collect();
    let one = vec![vec![base[5]]];
    let reps = 8;
    let time = |seqs: &mut [KvSequence], tokens: &[Vec<u32>], wanted| {
        median_pass(&exec, seqs, tokens, wanted, reps)
    };
    let four: Vec<Vec<u32>> = (0..4).map(|i| vec![base[i + 5]]).collect();
    let verify = vec![base[10..16].to_vec()];
    let verify4: Vec<Vec<u32>> = (0..4).map(|i| base[10 + i..16 + i].to_vec()).collect();
    if args.pass_curve {
        pass_curve(&exec, &mut branches[3], &base);
        return;
    }
    if args.profile_verify > 0 {
        let tokens = vec![base[10..10 + args.profile_tokens.clamp(1, 32)].to_vec()];
        let started = Instant::now();
        for _ in 0..args.profile_verify {
            let len = branches[3].len();
            pass(&exec, &mut branches[3..4], &tokens, LogitsWanted::All);
            branches[3].truncate(len);
        }
        println!(
            "[batch] {} passes of {} tokens, {:.1} ms each",
            args.profile_verify,
            tokens[0].len(),
            started.elapsed().as_secs_f64() * 1e3 / args.profile_verify as f64
        );
        return;
    }
    // Each byte dot product this CPU has (AVX2 always; VNNI where present;
    // with 512-bit VNNI, pairs of row groups for every pass beside the
    // loaded executor's choice), in alternating rounds so all see the
    // same machine state.
    use lookahead_executor::quant::{
        allow_vnni, byte_dot, pair_groups_from, pairs_groups_from, ByteDot,
    };
    let chosen = pairs_groups_from();
    // (name, VNNI allowed, pairs from this many tokens)
    // Q4_K and Q6_K in the 16-row layout run the 512-bit kernels whatever
    // the byte product setting (only they read it).
    let avx2 = if lookahead_executor::kernels_in_use().contains("16 rows a load") {
        "AVX2 where it applies (Q4_K/Q6_K stay 16 rows a load)"
    } else {
        "AVX2"
    };
    let mut kinds: Vec<(String, bool, usize)> = vec![(avx2.into(), false, chosen)];
    if byte_dot() == ByteDot::Vnni {
        if chosen != 1 {
            kinds.push(("VNNI, pairs of groups for every pass".into(), true, 1));
        }
        kinds.push((
            format!("VNNI, pairs of groups from {chosen} tokens"),
            true,
            chosen,
        ));
    }
    // Per kind: [1 token, 4 branches, verify, 4 x 6, prefill 128] (best round).
    let mut best = vec![[f64::INFINITY; 5]; kinds.len()];
    for _round in 0..2 {
        for (k, (_, vnni, from)) in kinds.iter().enumerate() {
            allow_vnni(*vnni);
            pair_groups_from(*from);
            let prefill = {
                let mut seq = exec.new_sequence();
                pass(
                    &exec,
                    std::slice::from_mut(&mut seq),
                    std::slice::from_ref(&base),
                    LogitsWanted::Last,
                )
                .as_secs_f64()
            };
            let got = [
                time(&mut branches[3..4], &one, LogitsWanted::Last),
                time(&mut branches, &four, LogitsWanted::Last),
                time(&mut branches[3..4], &verify, LogitsWanted::All),
                time(&mut branches, &verify4, LogitsWanted::All),
                prefill,
            ];
            for (b, g) in best[k].iter_mut().zip(got) {
                *b = b.min(g);
            }
        }
    }
    allow_vnni(true);
    pair_groups_from(chosen);
    println!("[batch] target, branch lengths {lens:?}, median of {reps} passes, best of 2 rounds:");
    for (k, (name, _, _)) in kinds.iter().enumerate() {
        let [t1, t4, tv, tv4, pf] = best[k];
        println!("[batch] byte products with {name}:");
        println!(
            "[batch]   1 branch x 1 token:            {:7.1} ms",
            t1 * 1e3
        );
        println!(
            "[batch]   4 ragged branches x 1 token:    {:7.1} ms = {:.2}x one branch (target <= 1.6x)",
            t4 * 1e3,
            t4 / t1
        );
        println!(
            "[batch]   verify 5 drafted (+1 pending):  {:7.1} ms = {:.2}x one decode step (target <= 1.4x)",
            tv * 1e3,
            tv / t1
        );
        println!(
            "[batch]   4 branches x 6 tokens:          {:7.1} ms = {:.2}x one decode step",
            tv4 * 1e3,
            tv4 / t1
        );
        println!(
            "[batch]   prefill {} tokens:            {:7.1} ms = {:.1} tok/s",
            base.len(),
            pf * 1e3,
            base.len() as f64 / pf
        );
    }
    // Each VNNI kind against AVX2.
    for (k, (name, _, _)) in kinds.iter().enumerate().skip(1) {
        let (a, v) = (best[0], best[k]);
        println!(
            "[batch] {name} / AVX2 time: 1 token {:.2}, verify {:.2}, 4 x 6 {:.2}, prefill {:.2}",
            v[0] / a[0],
            v[2] / a[2],
            v[3] / a[3],
            v[4] / a[4]
        );
    }
}

fn generate(gen: &mut dyn StepGenerator, text: &str, tokens: usize) -> (String, usize, f64) {
    let req = StepRequest {
        context: text.to_string().into(),
        max_tokens: tokens,
        stop_at_delimiter: false,
        hint: None,
    };
    let started = Instant::now();
    let out = gen
        .continue_steps(
            &[req],
            &Sampling::default(),
            &CancelFlag::new(),
            &mut |_, _| {},
        )
        .expect("generate");
    let secs = started.elapsed().as_secs_f64();
    let o = out.into_iter().next().expect("one output");
    (o.text, o.tokens, secs)
}

fn sd_section(args: &Args) {
    let target = Arc::new(
        Executor::load(path_of(args, &args.target), ExecutorOptions::default()).expect("target"),
    );
    // The helper as the app loads it (its shortlist head).
    let draft = Arc::new(
        Executor::load(
            path_of(args, &args.draft),
            ExecutorOptions {
                head_tokens: Some(lookahead_engine::DRAFT_HEAD_TOKENS),
                ..ExecutorOptions::default()
            },
        )
        .expect("draft"),
    );
    let prompt = lookahead_engine::parts::chat_prompt(QUESTION);
    // Warm both prefix caches so every run below measures decoding only.
    let warm = |e: &Arc<Executor>| {
        let mut g = ExecutorGenerator::new(e.clone());
        generate(&mut g, &prompt, 1);
    };
    warm(&target);
    warm(&draft);

    let mut plain = ExecutorGenerator::new(target.clone());
    let (text, n, secs) = generate(&mut plain, &prompt, args.sd_tokens);
    let plain_speed = n as f64 / secs;
    println!("[sd] plain target greedy:  {n} tokens in {secs:.1} s = {plain_speed:.2} tok/s");

    let mut draft_plain = ExecutorGenerator::new(draft.clone());
    let (_, dn, dsecs) = generate(&mut draft_plain, &prompt, args.sd_tokens);
    println!(
        "[sd] plain draft greedy:   {dn} tokens in {dsecs:.1} s = {:.2} tok/s",
        dn as f64 / dsecs
    );

    let runs: Vec<(&str, Box<dyn StepGenerator>)> = vec![
        (
            "draft-model SD",
            Box::new(
                SpeculativeGenerator::with_draft(
                    target.clone(),
                    draft.clone(),
                    SpeculationConfig::default(),
                )
                .expect("same tokenizer"),
            ),
        ),
        (
            "n-gram SD",
            Box::new(SpeculativeGenerator::with_ngram(
                target.clone(),
                NgramConfig::default(),
                SpeculationConfig {
                    min_k: 1,
                    ..SpeculationConfig::default()
                },
            )),
        ),
        (
            "n-gram, no sums",
            Box::new(SpeculativeGenerator::with_ngram(
                target.clone(),
                NgramConfig {
                    sum_results: false,
                    ..NgramConfig::default()
                },
                SpeculationConfig {
                    min_k: 1,
                    ..SpeculationConfig::default()
                },
            )),
        ),
        (
            "n-gram+draft SD",
            Box::new(
                SpeculativeGenerator::with_ngram_and_draft(
                    target.clone(),
                    NgramConfig::default(),
                    draft.clone(),
                    SpeculationConfig::default(),
                )
                .expect("same tokenizer"),
            ),
        ),
    ];
    for (label, mut gen) in runs {
        let (t, n, secs) = generate(gen.as_mut(), &prompt, args.sd_tokens);
        let stats = gen.take_stats();
        let rate = stats.accepted_tokens as f64 / stats.drafted_tokens.max(1) as f64;
        let mean_len = 1.0 + stats.accepted_tokens as f64 / stats.verification_rounds.max(1) as f64;
        println!(
            "[sd] {label:15} {n} tokens in {secs:.1} s = {:.2} tok/s = {:.2}x plain; acceptance {}/{} = {rate:.2}, mean acceptance length {mean_len:.2}, {} target passes; output {}",
            n as f64 / secs,
            n as f64 / secs / plain_speed,
            stats.accepted_tokens,
            stats.drafted_tokens,
            stats.verification_rounds,
            if t == text { "identical to plain" } else { "DIFFERS from plain" }
        );
        let per_pos: Vec<String> = stats
            .accepted_per_position
            .iter()
            .zip(&stats.proposed_per_position)
            .map(|(a, p)| format!("{:.2}", *a as f64 / (*p).max(1) as f64))
            .collect();
        println!("[sd]   per-position acceptance: [{}]", per_pos.join(", "));
        println!(
            "[sd]   forward passes (both models): {}, in them {:.2} s",
            stats.forward_passes, stats.decode_seconds
        );
        if stats.sum_drafted_tokens > 0 {
            println!(
                "[sd]   of which sums' results: {}/{} accepted",
                stats.sum_accepted_tokens, stats.sum_drafted_tokens
            );
        }
        if stats.model_drafted_tokens > 0 && stats.model_drafted_tokens < stats.drafted_tokens {
            println!(
                "[sd]   of which the draft model: {}/{} accepted, lookup: {}/{}",
                stats.model_accepted_tokens,
                stats.model_drafted_tokens,
                stats.accepted_tokens - stats.model_accepted_tokens,
                stats.drafted_tokens - stats.model_drafted_tokens
            );
        }
    }
    println!("[sd] answer: {:?}", text);
}

/// The draft's cost ratio c with its full output matrix and with shortlist
/// heads, and draft-model speculation with each (same run, same prompt).
fn head_section(args: &Args) {
    let target = Arc::new(
        Executor::load(path_of(args, &args.target), ExecutorOptions::default()).expect("target"),
    );
    let mut drafts: Vec<(String, Arc<Executor>)> = vec![(
        "full head".into(),
        Arc::new(
            Executor::load(path_of(args, &args.draft), ExecutorOptions::default()).expect("draft"),
        ),
    )];
    for &n in &args.head_tokens {
        let options = ExecutorOptions {
            head_tokens: Some(n),
            ..ExecutorOptions::default()
        };
        drafts.push((
            format!("first {n} tokens"),
            Arc::new(Executor::load(path_of(args, &args.draft), options).expect("draft")),
        ));
    }
    // Decode speed, measured in turns so load drifts hit every variant alike.
    let rounds = 3;
    let mut target_ms = Vec::new();
    let mut draft_ms: Vec<Vec<f64>> = drafts.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        let (_, dc) = executor_speed(&target, 32, args.decode_tokens);
        target_ms.push(1000.0 / dc);
        for ((_, d), ms) in drafts.iter().zip(draft_ms.iter_mut()) {
            let (_, dc) = executor_speed(d, 32, args.decode_tokens);
            ms.push(1000.0 / dc);
        }
    }
    let target_ms = median(target_ms);
    println!(
        "[head] target decode {target_ms:.1} ms/token (median of {rounds}, {} tokens each)",
        args.decode_tokens
    );

    let prompt = lookahead_engine::parts::chat_prompt(QUESTION);
    let mut plain = ExecutorGenerator::new(target.clone());
    generate(&mut plain, &prompt, 1);
    let (text, n, secs) = generate(&mut plain, &prompt, args.sd_tokens);
    let plain_speed = n as f64 / secs;
    for ((label, draft), ms) in drafts.iter().zip(draft_ms) {
        let ms = median(ms);
        let mut warm = ExecutorGenerator::new(draft.clone());
        generate(&mut warm, &prompt, 1);
        let mut sd = SpeculativeGenerator::with_draft(
            target.clone(),
            draft.clone(),
            SpeculationConfig::default(),
        )
        .expect("same tokenizer");
        let (t, sn, ssecs) = generate(&mut sd, &prompt, args.sd_tokens);
        let stats = sd.take_stats();
        println!(
            "[head] draft, {label:18} {:5.0} MB/token  decode {ms:5.1} ms/token  c = {:.2}   draft-model SD {:.2}x plain, acceptance {}/{} = {:.2}, output {}",
            draft.weight_bytes_per_token() as f64 / 1e6,
            ms / target_ms,
            sn as f64 / ssecs / plain_speed,
            stats.accepted_tokens,
            stats.drafted_tokens,
            stats.accepted_tokens as f64 / stats.drafted_tokens.max(1) as f64,
            if t == text { "identical to plain" } else { "DIFFERS from plain" }
        );
    }
}

fn main() {
    let args = parse_args();
    let want = |s: &str| args.only.iter().any(|o| o == s);
    if want("smol") {
        model_section(&args, "smol", &args.smol);
    }
    if want("draft") {
        model_section(&args, "draft", &args.draft);
    }
    if want("target") {
        model_section(&args, "target", &args.target);
    }
    if want("batch") {
        batch_section(&args);
    }
    if want("sd") {
        sd_section(&args);
    }
    if want("head") {
        head_section(&args);
    }
}
