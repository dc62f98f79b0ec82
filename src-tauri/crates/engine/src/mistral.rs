//! The mistral.rs 0.8.1 backend: a GGUF model behind mistral.rs's own engine
//! thread, driven with raw-text completion requests (no chat template: the
//! scheduler controls every token of the prompt).
//!
//! mistral.rs batches concurrent requests only when their lengths are equal
//! (no paged attention on CPU), so several requests here mostly time-slice;
//! the batched executor exists for that reason.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mistralrs::core::{CompletionChunkResponse, Response};
use mistralrs::{
    Constraint, GgufModelBuilder, Model, NormalRequest, Request, RequestMessage, SamplingParams,
    StopTokens, TokenSource,
};
use tokio::sync::mpsc;

use crate::cancel::CancelFlag;
use crate::error::{EngineError, Result};
use crate::generate::{
    Context, GeneratorStats, Sampling, StepEnd, StepGenerator, StepOutput, StepRequest, TokenSink,
    STEP_DELIMITER,
};
use crate::gguf_info::{self, GgufInfo};
use crate::prompt::strip_end_marker;

/// Upper bound on the context we let one sequence use: the models support
/// 32k, but a CPU answer never needs more and this bounds KV memory.
pub const DEFAULT_CONTEXT_LIMIT: usize = 4096;

/// Finished sequences mistral.rs keeps for prefix reuse. On CPU its prefix
/// cache never evicts, so we keep it small.
const PREFIX_CACHE_ENTRIES: usize = 8;

/// A GGUF model served by mistral.rs.
pub struct MistralGenerator {
    runtime: tokio::runtime::Runtime,
    model: Model,
    info: GgufInfo,
    name: String,
    context_limit: usize,
    stats: GeneratorStats,
}

static NEXT_REQUEST_ID: AtomicUsize = AtomicUsize::new(1);

/// A raw completion request (no chat template) for mistral.rs 0.8.1, with
/// every option this project does not use switched off. `raw_logits` asks
/// for the prompt's logits instead of text (reference tests).
pub fn completion_request(
    text: String,
    params: SamplingParams,
    streaming: bool,
    raw_logits: bool,
    response: mpsc::Sender<Response>,
) -> Request {
    Request::Normal(Box::new(NormalRequest {
        messages: RequestMessage::Completion {
            text,
            echo_prompt: false,
            best_of: None,
        },
        sampling_params: params,
        response,
        return_logprobs: false,
        is_streaming: streaming,
        id: NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed),
        constraint: Constraint::None,
        suffix: None,
        tools: None,
        tool_choice: None,
        logits_processors: None,
        return_raw_logits: raw_logits,
        web_search_options: None,
        model_id: None,
        truncate_sequence: false,
    }))
}

impl MistralGenerator {
    /// Loads `path` (a local GGUF file; never a hub id). Blocking: call it off
    /// the UI thread. `role` names the model in error messages ("draft").
    pub fn load(path: &Path, role: &str) -> Result<Self> {
        // mistral.rs treats a path that does not exist as a hub repo id and
        // goes to the network: check first, and hand it an absolute path.
        let info = gguf_info::inspect(path, role)?;
        let path = path.canonicalize()?;
        let (dir, file) = match (path.parent(), path.file_name()) {
            (Some(dir), Some(file)) => (dir.to_path_buf(), file.to_string_lossy().into_owned()),
            _ => {
                return Err(EngineError::ModelCorrupt {
                    path: path.clone(),
                    reason: "not a file path".into(),
                })
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .thread_name("lookahead-mistralrs")
            .build()?;
        let builder = GgufModelBuilder::new(dir.to_string_lossy(), vec![file])
            .with_token_source(TokenSource::None)
            .with_prefix_cache_n(Some(PREFIX_CACHE_ENTRIES))
            .with_max_num_seqs(16);
        #[cfg(not(any(feature = "cuda", feature = "metal")))]
        let builder = builder.with_force_cpu();
        let model = runtime
            .block_on(builder.build())
            .map_err(|e| EngineError::Load(format!("{}: {e:#}", info.name())))?;
        let context_limit = info
            .context_length
            .map_or(DEFAULT_CONTEXT_LIMIT, |n| n.min(DEFAULT_CONTEXT_LIMIT));
        Ok(Self {
            runtime,
            model,
            name: info.name(),
            info,
            context_limit,
            stats: GeneratorStats::default(),
        })
    }

    pub fn info(&self) -> &GgufInfo {
        &self.info
    }

    fn sampling_params(&self, sampling: &Sampling, request: &StepRequest) -> SamplingParams {
        let mut params = if sampling.is_greedy() {
            SamplingParams::deterministic()
        } else {
            let mut p = SamplingParams::neutral();
            p.temperature = Some(sampling.temperature);
            p.top_p = Some(sampling.top_p);
            p
        };
        params.max_len = Some(request.max_tokens.max(1));
        if request.stop_at_delimiter {
            params.stop_toks = Some(StopTokens::Seqs(vec![STEP_DELIMITER.to_string()]));
        }
        params
    }

    fn send(&self, text: String, params: SamplingParams) -> Result<mpsc::Receiver<Response>> {
        let (tx, rx) = mpsc::channel(64);
        let request = completion_request(text, params, true, false, tx);
        let sender = self
            .model
            .inner()
            .get_sender(None)
            .map_err(|e| EngineError::Generation(e.to_string()))?;
        self.runtime
            .block_on(sender.send(request))
            .map_err(|e| EngineError::Generation(e.to_string()))?;
        Ok(rx)
    }

    fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        self.runtime
            .block_on(self.model.tokenize(
                either::Either::Right(text.to_string()),
                None,
                false,
                false,
                None,
            ))
            .map_err(|e| EngineError::Generation(format!("tokenize: {e}")))
    }
}

/// One request's progress while its stream is read.
struct Running {
    text: String,
    end: Option<StepEnd>,
    started: Instant,
    first_token: Option<Instant>,
    finished: Option<Instant>,
    stop_at_delimiter: bool,
}

impl Running {
    /// Adds streamed text; returns the part that belongs to the step (text
    /// past a delimiter or an end marker is dropped).
    fn push(&mut self, piece: &str) -> String {
        let before = self.text.len();
        self.text.push_str(piece);
        let (kept, ended) = strip_end_marker(&self.text);
        let mut keep_len = kept.len();
        if ended {
            self.end = Some(StepEnd::EndOfSequence);
        }
        if self.stop_at_delimiter {
            if let Some(at) = self.text[..keep_len].find(STEP_DELIMITER) {
                keep_len = at + STEP_DELIMITER.len();
                self.end = Some(StepEnd::Delimiter);
            }
        }
        self.text.truncate(keep_len);
        self.text.get(before..).unwrap_or("").to_string()
    }

    fn finish(&mut self, reason: Option<&str>) {
        if self.end.is_none() {
            // mistral.rs reports a stop string and EOS alike as "stop"; a
            // delimiter was already caught in `push` (the stream carries the
            // stop string's text), so "stop" here means end of sequence.
            self.end = Some(match reason {
                Some("length") => StepEnd::Budget,
                Some("canceled") => StepEnd::Cancelled,
                _ => StepEnd::EndOfSequence,
            });
        }
        self.finished.get_or_insert_with(Instant::now);
    }
}

impl StepGenerator for MistralGenerator {
    fn name(&self) -> &str {
        &self.name
    }

    fn count_tokens(&self, context: &Context) -> Result<usize> {
        Ok(self.tokenize(&context.text())?.len())
    }

    fn context_limit(&self) -> usize {
        self.context_limit
    }

    fn continue_steps(
        &mut self,
        requests: &[StepRequest],
        sampling: &Sampling,
        cancel: &CancelFlag,
        on_token: TokenSink<'_>,
    ) -> Result<Vec<StepOutput>> {
        // mistral.rs takes text: each request is sent as its whole text.
        let texts: Vec<String> = requests.iter().map(StepRequest::text).collect();
        let prompt_tokens: Vec<usize> = texts
            .iter()
            .map(|t| Ok(self.tokenize(t)?.len()))
            .collect::<Result<_>>()?;
        // Requests go in together so mistral.rs can schedule them together.
        let mut receivers = Vec::with_capacity(requests.len());
        let mut running = Vec::with_capacity(requests.len());
        for (request, text) in requests.iter().zip(texts) {
            let params = self.sampling_params(sampling, request);
            receivers.push(Some(self.send(text, params)?));
            running.push(Running {
                text: String::new(),
                end: None,
                started: Instant::now(),
                first_token: None,
                finished: None,
                stop_at_delimiter: request.stop_at_delimiter,
            });
        }

        let (merged_tx, mut merged_rx) = mpsc::unbounded_channel::<(usize, Option<Response>)>();
        let mut forwarders = Vec::new();
        for (index, receiver) in receivers.iter_mut().enumerate() {
            let Some(mut rx) = receiver.take() else {
                continue;
            };
            let tx = merged_tx.clone();
            forwarders.push(self.runtime.spawn(async move {
                while let Some(response) = rx.recv().await {
                    if tx.send((index, Some(response))).is_err() {
                        return;
                    }
                }
                let _ = tx.send((index, None));
            }));
        }
        drop(merged_tx);

        let mut open = requests.len();
        let mut failure = None;
        while open > 0 {
            if cancel.is_cancelled() {
                break;
            }
            let next = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_millis(50), merged_rx.recv()).await
            });
            let (index, response) = match next {
                Err(_) => continue,
                Ok(None) => break,
                Ok(Some(item)) => item,
            };
            let Some(run) = running.get_mut(index) else {
                continue;
            };
            if run.end.is_some() && run.finished.is_some() {
                continue;
            }
            match response {
                None => {
                    run.finish(None);
                    open -= 1;
                }
                Some(Response::CompletionChunk(CompletionChunkResponse { choices, .. })) => {
                    for choice in choices {
                        if run.first_token.is_none() {
                            run.first_token = Some(Instant::now());
                        }
                        if run.end.is_none() {
                            let kept = run.push(&choice.text);
                            if !kept.is_empty() {
                                on_token(index, &kept);
                            }
                        }
                        if let Some(reason) = choice.finish_reason.as_deref() {
                            run.finish(Some(reason));
                        }
                    }
                    if run.end.is_some() && run.finished.is_none() {
                        // We cut the step ourselves: the rest is not needed.
                        run.finished = Some(Instant::now());
                    }
                    if run.finished.is_some() {
                        open -= 1;
                    }
                }
                Some(Response::CompletionDone(done)) => {
                    if let Some(choice) = done.choices.into_iter().next() {
                        if run.text.is_empty() {
                            let kept = run.push(&choice.text);
                            if !kept.is_empty() {
                                on_token(index, &kept);
                            }
                        }
                        run.finish(Some(&choice.finish_reason));
                    } else {
                        run.finish(None);
                    }
                    open -= 1;
                }
                Some(Response::InternalError(e)) | Some(Response::ValidationError(e)) => {
                    failure = Some(e.to_string());
                    break;
                }
                Some(Response::CompletionModelError(e, _)) | Some(Response::ModelError(e, _)) => {
                    failure = Some(e);
                    break;
                }
                Some(_) => {}
            }
        }
        // Dropping the receivers makes mistral.rs cancel what still runs.
        for forwarder in forwarders {
            forwarder.abort();
        }
        drop(merged_rx);
        if let Some(message) = failure {
            return Err(EngineError::Generation(message));
        }

        let cancelled = cancel.is_cancelled();
        let mut outputs = Vec::with_capacity(running.len());
        for (run, prompt) in running.into_iter().zip(prompt_tokens) {
            let end = match run.end {
                Some(end) => end,
                None if cancelled => StepEnd::Cancelled,
                None => StepEnd::EndOfSequence,
            };
            let tokens = if run.text.is_empty() {
                0
            } else {
                self.tokenize(&run.text)?.len()
            };
            let finished = run.finished.unwrap_or_else(Instant::now);
            let first = run.first_token.unwrap_or(finished);
            let prefill_time = first.saturating_duration_since(run.started);
            let decode_time = finished.saturating_duration_since(first);
            self.stats.prefill_tokens += prompt;
            self.stats.prefill_seconds += prefill_time.as_secs_f64();
            self.stats.generated_tokens += tokens;
            self.stats.decode_seconds += decode_time.as_secs_f64();
            self.stats.forward_passes += tokens;
            self.stats.batched_sequences += tokens;
            outputs.push(StepOutput {
                text: run.text,
                tokens,
                end: Some(end),
                prefill_tokens: prompt,
                prefill_time,
                decode_time,
                ids: None,
                ahead: None,
            });
        }
        Ok(outputs)
    }

    fn take_stats(&mut self) -> GeneratorStats {
        std::mem::take(&mut self.stats)
    }
}
