//! The forward pass: ragged batches, chunked prefill, fork and truncate all
//! give the same logits, bit for bit, as computing each sequence alone.

use lookahead_executor::{BatchItem, Executor, ExecutorOptions, KvSequence, Logits, LogitsWanted};

use crate::common::{chat, load, shared_smol, smol, QUESTION, SMOL};

fn run(exec: &Executor, seq: &mut KvSequence, tokens: &[u32], wanted: LogitsWanted) -> Logits {
    let mut out = exec
        .forward(&mut [BatchItem {
            seq,
            tokens,
            logits: wanted,
        }])
        .expect("forward");
    out.remove(0)
}

fn prompts(exec: &Executor) -> Vec<Vec<u32>> {
    let tok = exec.tokenizer();
    vec![
        tok.encode(&chat(QUESTION)).unwrap(),
        tok.encode("The quick brown fox jumps over the lazy dog.")
            .unwrap(),
        tok.encode(&chat("What is 17 * 23?")).unwrap(),
    ]
}

#[test]
fn ragged_batch_matches_single_sequences() {
    let exec = shared_smol();
    let prompts = prompts(&exec);
    let alone: Vec<Logits> = prompts
        .iter()
        .map(|p| run(&exec, &mut exec.new_sequence(), p, LogitsWanted::All))
        .collect();
    let mut seqs: Vec<KvSequence> = prompts.iter().map(|_| exec.new_sequence()).collect();
    let mut items: Vec<BatchItem<'_>> = seqs
        .iter_mut()
        .zip(&prompts)
        .map(|(seq, p)| BatchItem {
            seq,
            tokens: p,
            logits: LogitsWanted::All,
        })
        .collect();
    let together = exec.forward(&mut items).expect("batched forward");
    assert_eq!(
        alone, together,
        "a batch must not change any sequence's logits"
    );

    // And one decode step for all three (different positions) in one pass.
    let next: Vec<u32> = together
        .iter()
        .map(|l| lookahead_executor::argmax(l.last().unwrap()))
        .collect();
    let mut items: Vec<BatchItem<'_>> = seqs
        .iter_mut()
        .zip(&next)
        .map(|(seq, t)| BatchItem {
            seq,
            tokens: std::slice::from_ref(t),
            logits: LogitsWanted::Last,
        })
        .collect();
    let step = exec.forward(&mut items).expect("decode step");
    for ((p, t), l) in prompts.iter().zip(&next).zip(&step) {
        let mut full = p.clone();
        full.push(*t);
        let fresh = run(&exec, &mut exec.new_sequence(), &full, LogitsWanted::Last);
        assert_eq!(&fresh, l);
    }
}

#[test]
fn chunked_prefill_matches_token_by_token() {
    let exec = shared_smol();
    let prompt = &prompts(&exec)[1];
    let whole = run(&exec, &mut exec.new_sequence(), prompt, LogitsWanted::All);
    let mut seq = exec.new_sequence();
    for (i, t) in prompt.iter().enumerate() {
        let l = run(&exec, &mut seq, std::slice::from_ref(t), LogitsWanted::Last);
        assert_eq!(l.row(0), whole.row(i), "position {i}");
    }
    // Passes capped at 5 tokens split the prompt; same numbers.
    let small = load(
        SMOL,
        ExecutorOptions {
            max_tokens_per_pass: 5,
            ..ExecutorOptions::default()
        },
    );
    let split = run(&small, &mut small.new_sequence(), prompt, LogitsWanted::All);
    assert_eq!(split, whole);
}

#[test]
fn fork_and_truncate_match_recomputation() {
    let exec = smol();
    let prompt = exec.tokenizer().encode(&chat(QUESTION)).unwrap();
    let x: Vec<u32> = exec.tokenizer().encode("She sold 48").unwrap();
    let y: Vec<u32> = exec.tokenizer().encode(" In May").unwrap();

    let mut a = exec.new_sequence();
    run(&exec, &mut a, &prompt, LogitsWanted::None);
    let before_fork = exec.kv_bytes_in_use();
    let mut b = a.fork();
    assert_eq!(exec.kv_bytes_in_use(), before_fork, "a fork copies nothing");
    let lb = run(&exec, &mut b, &x, LogitsWanted::All);
    let la = run(&exec, &mut a, &y, LogitsWanted::All);
    assert!(
        exec.kv_bytes_in_use() <= before_fork + 4 * exec.kv_layout().block_bytes(),
        "writing after a fork copies at most the shared partial block"
    );

    let fresh = |tail: &[u32]| {
        let mut all = prompt.clone();
        all.extend_from_slice(tail);
        run(
            &exec,
            &mut exec.new_sequence(),
            &all,
            LogitsWanted::Tail(tail.len()),
        )
    };
    assert_eq!(lb, fresh(&x));
    assert_eq!(la, fresh(&y));

    // Roll back two tokens of b and run them again: same logits.
    b.truncate(prompt.len() + x.len() - 2);
    let again = run(&exec, &mut b, &x[x.len() - 2..], LogitsWanted::All);
    assert_eq!(again.row(0), lb.row(x.len() - 2));
    assert_eq!(again.row(1), lb.row(x.len() - 1));
    // Roll back into the shared prefix, then continue differently.
    b.truncate(prompt.len() - 3);
    let mut tail = prompt[prompt.len() - 3..].to_vec();
    tail.extend_from_slice(&y);
    let l = run(&exec, &mut b, &tail, LogitsWanted::Tail(y.len()));
    assert_eq!(l, la);

    drop((a, b));
    assert_eq!(
        exec.kv_bytes_in_use(),
        0,
        "dropping sequences frees their blocks"
    );
}

#[test]
fn prefix_cache_returns_the_longest_usable_prefix() {
    let exec = smol();
    let prompt = exec.tokenizer().encode(&chat(QUESTION)).unwrap();
    let mut seq = exec.new_sequence();
    run(&exec, &mut seq, &prompt, LogitsWanted::None);
    exec.remember(&seq);
    drop(seq);
    assert!(
        exec.kv_bytes_in_use() > 0,
        "the prefix cache keeps the blocks"
    );

    let mut longer = prompt.clone();
    longer.extend_from_slice(&exec.tokenizer().encode("She sold").unwrap());
    assert_eq!(exec.cached_sequence(&longer).len(), prompt.len());
    // The same text again: all but the last token (its logits are needed).
    assert_eq!(exec.cached_sequence(&prompt).len(), prompt.len() - 1);
    let mut other = prompt[..10].to_vec();
    other.push(12345);
    assert_eq!(exec.cached_sequence(&other).len(), 10);

    // Reusing the cache gives the logits of a full recomputation.
    let mut reused = exec.cached_sequence(&longer);
    let tail = longer[reused.len()..].to_vec();
    let l = run(&exec, &mut reused, &tail, LogitsWanted::Last);
    let fresh = run(&exec, &mut exec.new_sequence(), &longer, LogitsWanted::Last);
    assert_eq!(l, fresh);

    exec.clear_prefix_cache();
    drop(reused);
    assert_eq!(exec.kv_bytes_in_use(), 0);
}

#[test]
fn cache_budget_is_enforced_with_a_clear_error() {
    let exec = load(
        SMOL,
        ExecutorOptions {
            kv_budget_bytes: 0,
            ..ExecutorOptions::default()
        },
    );
    let prompt = exec.tokenizer().encode("Hello there").unwrap();
    let mut seq = exec.new_sequence();
    let err = exec
        .forward(&mut [BatchItem {
            seq: &mut seq,
            tokens: &prompt,
            logits: LogitsWanted::Last,
        }])
        .expect_err("no room");
    assert!(err.to_string().contains("budget"), "{err}");
    assert!(
        seq.is_empty(),
        "a failed pass leaves the sequence as it was"
    );
}

#[test]
fn a_shortlist_head_gives_the_same_logits_for_its_tokens_and_none_for_others() {
    let full = shared_smol();
    let short = load(
        SMOL,
        ExecutorOptions {
            head_tokens: Some(1024),
            ..ExecutorOptions::default()
        },
    );
    let prompt = &prompts(&full)[0];
    let want = run(
        &full,
        &mut full.new_sequence(),
        prompt,
        LogitsWanted::Tail(3),
    );
    let got = run(
        &short,
        &mut short.new_sequence(),
        prompt,
        LogitsWanted::Tail(3),
    );
    assert_eq!(got.rows(), 3);
    assert_eq!(got.vocab(), want.vocab());
    let ends = full.tokenizer().end_ids();
    // SmolLM2's end tokens (0, 2) are on the list already and 1024 is a
    // multiple of 16, so the list is exactly 0..1024.
    assert!(ends.iter().all(|&e| e < 1024), "end tokens {ends:?}");
    for i in 0..3 {
        let (w, g) = (want.row(i), got.row(i));
        for id in 0..w.len() {
            let listed = id < 1024 || ends.contains(&(id as u32));
            if listed {
                assert!(
                    (w[id] - g[id]).abs() < 1e-4,
                    "row {i} token {id}: {} vs {}",
                    w[id],
                    g[id]
                );
            } else {
                assert_eq!(
                    g[id],
                    f32::NEG_INFINITY,
                    "row {i} token {id} is not on the list"
                );
            }
        }
    }
    // The output matrix shrinks with the list: a decode step reads less.
    assert!(short.weight_bytes_per_token() < full.weight_bytes_per_token());
}

/// The executor times its one-sequence passes by length: what a pass of
/// several tokens costs against one of one, which word drafting weighs its
/// guesses against, is the prior until both lengths were measured, then
/// this computer's own.
#[test]
fn passes_are_timed_by_their_length() {
    use lookahead_executor::prior_cost;
    let exec = smol();
    let tokens = prompts(&exec).remove(0);
    let mut seq = exec.new_sequence();
    run(&exec, &mut seq, &tokens[..20], LogitsWanted::None);
    assert_eq!(exec.pass_cost(1), 1.0);
    assert_eq!(exec.pass_cost(4), prior_cost(4));
    let start = seq.len();
    for round in 0..8 {
        for len in [1, 4] {
            let from = 20 + (round % 4);
            run(
                &exec,
                &mut seq,
                &tokens[from..from + len],
                LogitsWanted::All,
            );
            seq.truncate(start);
        }
    }
    let four = exec.pass_cost(4);
    assert!(four >= 1.0 && four.is_finite(), "{four}");
    assert_ne!(four, prior_cost(4), "the measured cost replaces the prior");
    // Two sequences in one pass are not a pass of one sequence: uncounted.
    let mut other = exec.new_sequence();
    let mut seq2 = seq.fork();
    exec.forward(&mut [
        BatchItem {
            seq: &mut seq2,
            tokens: &tokens[20..23],
            logits: LogitsWanted::None,
        },
        BatchItem {
            seq: &mut other,
            tokens: &tokens[..20],
            logits: LogitsWanted::None,
        },
    ])
    .expect("forward");
    assert_eq!(exec.pass_cost(4), four);
    assert_eq!(exec.pass_cost(6), prior_cost(6));
}
