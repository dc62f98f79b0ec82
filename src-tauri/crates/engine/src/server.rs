//! A model on an inference server on the network: llama.cpp's
//! `llama-server`, vLLM or mistral.rs's server, all of which speak the
//! OpenAI-compatible HTTP API. Step-level Lookahead works on text, so a
//! server model is a [`StepGenerator`] like a local one: a step is a
//! completion of (rendered prompt + answer so far) that stops at the step
//! delimiter; the γ+1 target branches are concurrent requests, which these
//! servers batch. Token-level speculation needs a verification pass an
//! HTTP API does not expose, so it stays local.
//!
//! llama-server is spoken to on its own `/completion` endpoint (it says
//! whether a completion stopped at the delimiter or at the end of the
//! answer, and reuses its cached prompt with `cache_prompt`); every other
//! server on `/v1/completions` (vLLM caches prefixes by itself and names
//! the stop string it hit in `stop_reason`).

use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::cancel::CancelFlag;
use crate::error::{EngineError, Result};
use crate::generate::{
    Context, GeneratorStats, Sampling, StepEnd, StepGenerator, StepOutput, StepRequest, TokenSink,
    STEP_DELIMITER,
};

/// The environment variable an API key is read from (never stored in the
/// history file or the settings).
pub const API_KEY_VAR: &str = "LOOKAHEAD_SERVER_KEY";

/// Where a model runs when it is not on this computer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerConfig {
    /// The server's address, e.g. `http://gpu-box:8000` (a trailing `/v1`
    /// is accepted too).
    pub url: String,
    /// The model's name on the server; `None` takes the first it serves.
    #[serde(default)]
    pub model: Option<String>,
    /// Sent as `Authorization: Bearer …`. Not serialised: keys stay out of
    /// files; front ends read [`API_KEY_VAR`] or ask the keyring.
    #[serde(skip)]
    pub api_key: Option<String>,
    /// Speak only the OpenAI-compatible API even to llama.cpp's server
    /// (whose own endpoints are otherwise preferred). The tests use it to
    /// run the path vLLM and mistral.rs's server take against a real server.
    #[serde(default)]
    pub openai_only: bool,
}

impl ServerConfig {
    pub fn new(url: impl Into<String>, model: Option<String>) -> Self {
        Self {
            url: url.into(),
            model,
            api_key: std::env::var(API_KEY_VAR).ok().filter(|k| !k.is_empty()),
            openai_only: false,
        }
    }

    /// The name answers record for this model ("<model> on <address>"),
    /// as [`ServerGenerator`] names it once connected; the address alone
    /// while no model name was given.
    pub fn display_name(&self) -> String {
        match &self.model {
            Some(model) => format!("{} on {}", file_stem(model), self.base()),
            None => self.base(),
        }
    }

    /// The address without trailing slashes or `/v1`.
    fn base(&self) -> String {
        let url = self.url.trim().trim_end_matches('/');
        url.strip_suffix("/v1").unwrap_or(url).to_string()
    }
}

/// What went wrong talking to a server, in terms a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("{url} refused the API key (HTTP {status})")]
    KeyRefused { url: String, status: u16 },
    #[error("{url} serves no model called {name:?} (it serves: {available})")]
    UnknownModel {
        url: String,
        name: String,
        available: String,
    },
    #[error("{url}: the text is longer than the model's context: {detail}")]
    ContextTooLong { url: String, detail: String },
    #[error("{url} answered HTTP {status}: {detail}")]
    Failed {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("the connection to {url} was lost while it wrote: {detail}")]
    Dropped { url: String, detail: String },
    #[error("{url} did not answer like an OpenAI-compatible server: {detail}")]
    NotAServer { url: String, detail: String },
}

impl ServerError {
    pub fn code(&self) -> &'static str {
        match self {
            ServerError::Unreachable { .. } => "server_unreachable",
            ServerError::KeyRefused { .. } => "server_key_refused",
            ServerError::UnknownModel { .. } => "server_unknown_model",
            ServerError::ContextTooLong { .. } => "server_context_too_long",
            ServerError::Failed { .. } => "server_failed",
            ServerError::Dropped { .. } => "server_dropped",
            ServerError::NotAServer { .. } => "server_not_a_server",
        }
    }

    pub fn user_message(&self) -> String {
        match self {
            ServerError::Unreachable { url, .. } => format!(
                "The model server at {url} cannot be reached. Check the address and that the server is running, then try again."
            ),
            ServerError::KeyRefused { url, .. } => format!(
                "The model server at {url} refused the key. Check the API key (set it in {API_KEY_VAR})."
            ),
            ServerError::UnknownModel {
                url,
                name,
                available,
            } => format!(
                "The model server at {url} has no model called \"{name}\". It offers: {available}."
            ),
            ServerError::ContextTooLong { .. } => "The question and the answer so far are too long for the server's model. Start a new chat or shorten the question.".to_string(),
            ServerError::Failed { url, status, .. } => format!(
                "The model server at {url} answered with an error (HTTP {status}). Try again; if it keeps happening, ask whoever runs the server."
            ),
            ServerError::Dropped { url, .. } => format!(
                "The connection to the model server at {url} was lost while it was writing. What was written so far is kept."
            ),
            ServerError::NotAServer { url, .. } => format!(
                "The address {url} does not answer like a model server (an OpenAI-compatible API such as llama.cpp's server or vLLM). Check the address."
            ),
        }
    }
}

fn err(e: ServerError) -> EngineError {
    EngineError::Server(e)
}

/// Which API the server speaks best.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    /// llama.cpp's server: `/completion` with `stop_type`, `cache_prompt`,
    /// `/tokenize`, `/props`.
    LlamaCpp,
    /// Any OpenAI-compatible server (vLLM, mistral.rs): `/v1/completions`.
    OpenAi,
}

/// A model served over HTTP, as a [`StepGenerator`]. Cheap to clone (the
/// connection pool is shared).
#[derive(Clone)]
pub struct ServerGenerator {
    agent: ureq::Agent,
    config: ServerConfig,
    base: String,
    /// The model's id on the server (sent with every request).
    model: String,
    /// A short name for people: the id's file name.
    display: String,
    flavour: Flavour,
    context: usize,
    chat_template: Option<ChatTemplateInfo>,
    stats: GeneratorStats,
    /// Per request of the last call: (sent, first text, done) — to show
    /// that branches really ran at the same time.
    last_timings: Vec<RequestTiming>,
}

/// The chat template a server reports (llama-server's `/props`).
#[derive(Clone, Debug)]
pub struct ChatTemplateInfo {
    pub source: String,
    pub bos_token: String,
    pub eos_token: String,
}

/// When one request of a batch was sent, produced its first text and ended.
#[derive(Clone, Copy, Debug)]
pub struct RequestTiming {
    pub sent: Instant,
    pub first_text: Option<Instant>,
    pub done: Instant,
}

/// How long to wait for a server to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a streamed completion may go quiet (a long prompt on a busy
/// server can take a while before its first token).
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// How many times a request that could not connect is tried again.
const RETRIES: usize = 2;

impl ServerGenerator {
    /// Connects: lists the server's models (checking the name and the
    /// key), then reads what llama-server tells of itself (context size,
    /// chat template). Fails in plain words when the server is down, the
    /// key is refused or the model is not there.
    pub fn connect(config: &ServerConfig) -> Result<Self> {
        let agent = crate::net::agent(CONNECT_TIMEOUT, READ_TIMEOUT);
        let base = config.base();
        let mut server = Self {
            agent,
            config: config.clone(),
            base: base.clone(),
            model: String::new(),
            display: String::new(),
            flavour: Flavour::OpenAi,
            context: 4096,
            chat_template: None,
            stats: GeneratorStats::default(),
            last_timings: Vec::new(),
        };
        let models = server.get("/v1/models")?;
        let entries = models["data"].as_array().cloned().unwrap_or_default();
        let ids: Vec<(String, Vec<String>, Option<u64>)> = entries
            .iter()
            .filter_map(|m| {
                let id = m["id"].as_str()?.to_string();
                let aliases = m["aliases"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                Some((id, aliases, m["max_model_len"].as_u64()))
            })
            .collect();
        if ids.is_empty() {
            return Err(err(ServerError::NotAServer {
                url: base,
                detail: format!("/v1/models listed no models: {models}"),
            }));
        }
        let chosen = match &config.model {
            None => ids.first(),
            Some(name) => ids.iter().find(|(id, aliases, _)| {
                id == name || aliases.iter().any(|a| a == name) || file_stem(id) == file_stem(name)
            }),
        };
        let Some((id, _, max_len)) = chosen.cloned() else {
            return Err(err(ServerError::UnknownModel {
                url: base,
                name: config.model.clone().unwrap_or_default(),
                available: ids
                    .iter()
                    .map(|(id, _, _)| file_stem(id))
                    .collect::<Vec<_>>()
                    .join(", "),
            }));
        };
        server.display = file_stem(&id);
        server.model = id;
        if let Some(len) = max_len {
            server.context = len as usize;
        }
        // llama-server describes itself; other servers have no /props.
        if config.openai_only {
            return Ok(server);
        }
        if let Ok(props) = server.get("/props") {
            if props.get("default_generation_settings").is_some() {
                server.flavour = Flavour::LlamaCpp;
                if let Some(n) = props["default_generation_settings"]["n_ctx"].as_u64() {
                    server.context = n as usize;
                }
                if let Some(source) = props["chat_template"].as_str() {
                    server.chat_template = Some(ChatTemplateInfo {
                        source: source.to_string(),
                        bos_token: props["bos_token"].as_str().unwrap_or("").to_string(),
                        eos_token: props["eos_token"].as_str().unwrap_or("").to_string(),
                    });
                }
            }
        }
        Ok(server)
    }

    /// The chat template the server reported, if it did.
    pub fn chat_template(&self) -> Option<&ChatTemplateInfo> {
        self.chat_template.as_ref()
    }

    /// The server's address, for "where it ran".
    pub fn url(&self) -> &str {
        &self.base
    }

    /// When each request of the last `continue_steps` call was sent,
    /// produced its first text and ended.
    pub fn last_timings(&self) -> &[RequestTiming] {
        &self.last_timings
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        let mut request = self.agent.request(method, &format!("{}{path}", self.base));
        if let Some(key) = &self.config.api_key {
            request = request.set("Authorization", &format!("Bearer {key}"));
        }
        request
    }

    fn get(&self, path: &str) -> Result<Value> {
        let response = self.send("GET", path, None)?;
        response.into_json().map_err(|e| {
            err(ServerError::NotAServer {
                url: self.base.clone(),
                detail: format!("{path}: {e}"),
            })
        })
    }

    fn post(&self, path: &str, body: &Value) -> Result<ureq::Response> {
        self.send("POST", path, Some(body))
    }

    /// Sends, retrying a connection that could not be made, and turns
    /// HTTP errors into [`ServerError`]s.
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<ureq::Response> {
        let mut tries = 0;
        loop {
            let request = self.request(method, path);
            let sent = match body {
                Some(body) => request.send_json(body.clone()),
                None => request.call(),
            };
            match sent {
                Ok(response) => return Ok(response),
                Err(ureq::Error::Status(status, response)) => {
                    let detail = response.into_string().unwrap_or_default();
                    let detail: String = detail.chars().take(500).collect();
                    let url = self.base.clone();
                    return Err(err(match status {
                        401 | 403 => ServerError::KeyRefused { url, status },
                        404 if detail.to_lowercase().contains("model") => {
                            ServerError::UnknownModel {
                                url,
                                name: self.model.clone(),
                                available: detail,
                            }
                        }
                        400 if mentions_context(&detail) => {
                            ServerError::ContextTooLong { url, detail }
                        }
                        _ => ServerError::Failed {
                            url,
                            status,
                            detail,
                        },
                    }));
                }
                Err(ureq::Error::Transport(t)) => {
                    if tries < RETRIES && t.kind() == ureq::ErrorKind::ConnectionFailed {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(300 * tries as u64));
                        continue;
                    }
                    return Err(err(ServerError::Unreachable {
                        url: self.base.clone(),
                        detail: t.to_string(),
                    }));
                }
            }
        }
    }

    /// The request body of one step.
    fn body(&self, request: &StepRequest, sampling: &Sampling) -> (&'static str, Value) {
        let stop: Vec<&str> = if request.stop_at_delimiter {
            vec![STEP_DELIMITER]
        } else {
            Vec::new()
        };
        let temperature = if sampling.is_greedy() {
            0.0
        } else {
            sampling.temperature
        };
        match self.flavour {
            Flavour::LlamaCpp => (
                "/completion",
                json!({
                    "prompt": request.text(),
                    "n_predict": request.max_tokens,
                    "stop": stop,
                    "temperature": temperature,
                    "top_p": sampling.top_p,
                    "top_k": if sampling.is_greedy() { 1 } else { 0 },
                    "seed": sampling.seed,
                    "stream": true,
                    "cache_prompt": true,
                }),
            ),
            Flavour::OpenAi => (
                "/v1/completions",
                json!({
                    "model": self.model,
                    "prompt": request.text(),
                    "max_tokens": request.max_tokens,
                    "stop": stop,
                    "temperature": temperature,
                    "top_p": sampling.top_p,
                    "seed": sampling.seed,
                    "stream": true,
                    "stream_options": { "include_usage": true },
                }),
            ),
        }
    }

    /// Runs one streamed completion, sending text pieces to `pieces`;
    /// stops reading (closing the connection, which stops the server) when
    /// `stop` is set.
    fn stream_one(
        &self,
        index: usize,
        request: &StepRequest,
        sampling: &Sampling,
        stop: &AtomicBool,
        pieces: &mpsc::Sender<(usize, String)>,
    ) -> Result<(StepOutput, RequestTiming)> {
        let sent = Instant::now();
        let (path, body) = self.body(request, sampling);
        let response = self.post(path, &body)?;
        let reader = BufReader::new(response.into_reader());
        let mut out = StepOutput::default();
        let mut first_text = None;
        let mut pieces_seen = 0usize;
        let mut usage_tokens = None;
        let mut timings: Option<(usize, f64, f64)> = None;
        let mut ended = false;
        for line in reader.lines() {
            if stop.load(Ordering::Relaxed) {
                out.end = Some(StepEnd::Cancelled);
                break;
            }
            let line = line.map_err(|e| {
                err(ServerError::Dropped {
                    url: self.base.clone(),
                    detail: e.to_string(),
                })
            })?;
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                break;
            }
            let chunk: Value = serde_json::from_str(data).map_err(|e| {
                err(ServerError::NotAServer {
                    url: self.base.clone(),
                    detail: format!("a streamed chunk is not JSON ({e}): {data}"),
                })
            })?;
            if let Some(message) = chunk["error"]["message"].as_str() {
                let detail = message.to_string();
                return Err(err(if mentions_context(&detail) {
                    ServerError::ContextTooLong {
                        url: self.base.clone(),
                        detail,
                    }
                } else {
                    ServerError::Failed {
                        url: self.base.clone(),
                        status: 200,
                        detail,
                    }
                }));
            }
            let (piece, end) = match self.flavour {
                Flavour::LlamaCpp => {
                    let end = chunk["stop"].as_bool().unwrap_or(false).then(|| {
                        match chunk["stop_type"].as_str() {
                            Some("word") => StepEnd::Delimiter,
                            Some("limit") => StepEnd::Budget,
                            _ => StepEnd::EndOfSequence,
                        }
                    });
                    if let Some(t) = chunk.get("timings") {
                        timings = Some((
                            t["prompt_n"].as_u64().unwrap_or(0) as usize,
                            t["prompt_ms"].as_f64().unwrap_or(0.0) / 1000.0,
                            t["predicted_ms"].as_f64().unwrap_or(0.0) / 1000.0,
                        ));
                    }
                    if let Some(n) = chunk["tokens_predicted"].as_u64() {
                        usage_tokens = Some(n as usize);
                    }
                    (chunk["content"].as_str().unwrap_or("").to_string(), end)
                }
                Flavour::OpenAi => {
                    if let Some(n) = chunk["usage"]["completion_tokens"].as_u64() {
                        usage_tokens = Some(n as usize);
                    }
                    let choice = &chunk["choices"][0];
                    let end = match choice["finish_reason"].as_str() {
                        Some("length") => Some(StepEnd::Budget),
                        Some(_) => Some(match choice.get("stop_reason") {
                            // vLLM names the stop string it hit; null is the end of the answer.
                            Some(Value::Null) => StepEnd::EndOfSequence,
                            Some(Value::String(s)) if s != STEP_DELIMITER => StepEnd::EndOfSequence,
                            // Servers that do not say: a completion that
                            // was asked to stop at the delimiter stopped
                            // there (if it was in fact the end of the
                            // answer, the next step comes back empty).
                            _ if request.stop_at_delimiter => StepEnd::Delimiter,
                            _ => StepEnd::EndOfSequence,
                        }),
                        None => None,
                    };
                    (choice["text"].as_str().unwrap_or("").to_string(), end)
                }
            };
            if !piece.is_empty() {
                first_text.get_or_insert_with(Instant::now);
                pieces_seen += 1;
                out.text.push_str(&piece);
                let _ = pieces.send((index, piece));
            }
            if let Some(end) = end {
                out.end = Some(end);
                ended = true;
                if self.flavour == Flavour::LlamaCpp {
                    break;
                }
            }
        }
        if !ended && out.end != Some(StepEnd::Cancelled) {
            // The stream ended without saying why: the server went away.
            return Err(err(ServerError::Dropped {
                url: self.base.clone(),
                detail: format!("the stream ended after {} characters", out.text.len()),
            }));
        }
        if out.end == Some(StepEnd::Delimiter) && !out.text.ends_with(STEP_DELIMITER) {
            // Servers drop the stop string; steps keep their delimiter.
            out.text.push_str(STEP_DELIMITER);
            let _ = pieces.send((index, STEP_DELIMITER.to_string()));
        }
        let done = Instant::now();
        out.tokens = usage_tokens.unwrap_or(pieces_seen);
        match timings {
            Some((prompt_n, prompt_s, predicted_s)) => {
                out.prefill_tokens = prompt_n;
                out.prefill_time = Duration::from_secs_f64(prompt_s);
                out.decode_time = Duration::from_secs_f64(predicted_s);
            }
            None => {
                let first = first_text.unwrap_or(done);
                out.prefill_time = first - sent;
                out.decode_time = done - first;
            }
        }
        Ok((
            out,
            RequestTiming {
                sent,
                first_text,
                done,
            },
        ))
    }
}

impl StepGenerator for ServerGenerator {
    fn name(&self) -> &str {
        &self.display
    }

    fn count_tokens(&self, context: &Context) -> Result<usize> {
        let text = context.text();
        let body = json!({ "content": text, "prompt": text, "model": self.model });
        let counted = self
            .post("/tokenize", &body)
            .ok()
            .and_then(|r| r.into_json::<Value>().ok())
            .and_then(|v| {
                v["count"]
                    .as_u64()
                    .map(|n| n as usize)
                    .or_else(|| v["tokens"].as_array().map(Vec::len))
            });
        // A server without /tokenize: about three characters a token (a
        // generous guess, so the length check errs on the safe side).
        Ok(counted.unwrap_or_else(|| text.chars().count().div_ceil(3)))
    }

    fn context_limit(&self) -> usize {
        self.context
    }

    fn continue_steps(
        &mut self,
        requests: &[StepRequest],
        sampling: &Sampling,
        cancel: &CancelFlag,
        on_token: TokenSink<'_>,
    ) -> Result<Vec<StepOutput>> {
        let stop = AtomicBool::new(false);
        let (pieces_tx, pieces_rx) = mpsc::channel::<(usize, String)>();
        let this = &*self;
        let results = std::thread::scope(|scope| {
            let handles: Vec<_> = requests
                .iter()
                .enumerate()
                .map(|(i, request)| {
                    let tx = pieces_tx.clone();
                    let stop = &stop;
                    scope.spawn(move || this.stream_one(i, request, sampling, stop, &tx))
                })
                .collect();
            drop(pieces_tx);
            // Pieces reach the caller on this thread, in the order they came.
            loop {
                match pieces_rx.recv_timeout(Duration::from_millis(50)) {
                    Ok((i, piece)) => on_token(i, &piece),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                if cancel.is_cancelled() {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(EngineError::Generation("a server request panicked".into()))
                    })
                })
                .collect::<Vec<_>>()
        });
        let mut outputs = Vec::with_capacity(requests.len());
        let mut timings = Vec::with_capacity(requests.len());
        for result in results {
            let (output, timing) = result?;
            self.stats.prefill_tokens += output.prefill_tokens;
            self.stats.prefill_seconds += output.prefill_time.as_secs_f64();
            self.stats.generated_tokens += output.tokens;
            self.stats.decode_seconds += output.decode_time.as_secs_f64();
            outputs.push(output);
            timings.push(timing);
        }
        // Concurrent requests are one batch on the server.
        self.stats.forward_passes += 1;
        self.stats.batched_sequences += requests.len();
        self.last_timings = timings;
        Ok(outputs)
    }

    fn take_stats(&mut self) -> GeneratorStats {
        std::mem::take(&mut self.stats)
    }
}

/// "qwen2.5-coder-1.5b-instruct-q4_k_m" from a path-like model id.
fn file_stem(id: &str) -> String {
    let name = id.rsplit(['/', '\\']).next().unwrap_or(id);
    name.strip_suffix(".gguf").unwrap_or(name).to_string()
}

fn mentions_context(detail: &str) -> bool {
    let d = detail.to_lowercase();
    d.contains("context") || d.contains("too long") || d.contains("exceed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_model_names_are_read_the_way_people_write_them() {
        let c = ServerConfig {
            url: " http://gpu-box:8000/v1/ ".into(),
            model: None,
            api_key: None,
            openai_only: false,
        };
        assert_eq!(c.base(), "http://gpu-box:8000");
        assert_eq!(
            file_stem("/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
            "qwen2.5-coder-1.5b-instruct-q4_k_m"
        );
        assert_eq!(
            file_stem("Qwen/Qwen2.5-32B-Instruct"),
            "Qwen2.5-32B-Instruct"
        );
    }

    #[test]
    fn a_closed_port_is_called_unreachable_in_plain_words() {
        // Port 9 (discard) is closed on any test machine.
        let e = ServerGenerator::connect(&ServerConfig {
            url: "http://127.0.0.1:9".into(),
            model: None,
            api_key: None,
            openai_only: false,
        })
        .err()
        .expect("nothing listens there");
        assert_eq!(e.code(), "server_unreachable");
        assert!(
            e.user_message().contains("cannot be reached"),
            "{}",
            e.user_message()
        );
    }
}
