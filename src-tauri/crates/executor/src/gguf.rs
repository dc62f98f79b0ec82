//! Reading a GGUF file: architecture hyper-parameters and the weight bytes,
//! with every refusal turned into a plain [`ExecutorError`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use candle_core::quantized::gguf_file::{Content, Value};

use crate::error::{ExecutorError, Result};
use crate::format::WeightFormat;
use crate::quant::QWeight;

/// Decoder families the executor runs. Both are pre-norm transformers with
/// grouped-query attention, RMSNorm and a SwiGLU MLP; they differ in RoPE
/// pairing and qwen2's Q/K/V biases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Architecture {
    Llama,
    Qwen2,
}

/// Hyper-parameters of a loaded model.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub architecture: Architecture,
    pub layers: usize,
    pub hidden: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ffn_hidden: usize,
    /// Rows of the output matrix (logits per position).
    pub vocab: usize,
    pub rope_base: f32,
    pub rope_dim: usize,
    /// GGUF llama checkpoints pair dimensions (2i, 2i+1) for RoPE; qwen2
    /// (NeoX style) pairs (i, i + d/2).
    pub rope_interleaved: bool,
    pub rms_eps: f32,
    pub context_length: usize,
}

impl ModelConfig {
    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

/// Per-layer weights.
pub(crate) struct LayerWeights {
    pub attn_norm: Vec<f32>,
    pub wq: QWeight,
    pub wk: QWeight,
    pub wv: QWeight,
    pub bq: Option<Vec<f32>>,
    pub bk: Option<Vec<f32>>,
    pub bv: Option<Vec<f32>>,
    pub wo: QWeight,
    pub ffn_norm: Vec<f32>,
    pub w_gate: QWeight,
    pub w_up: QWeight,
    pub w_down: QWeight,
}

pub(crate) struct ModelWeights {
    pub embed: QWeight,
    pub layers: Vec<LayerWeights>,
    pub out_norm: Vec<f32>,
    /// `None`: the output matrix is the embedding (tied weights).
    pub output: Option<QWeight>,
    /// With a shortlist head ([`ModelWeights::prepare_output`]): the token
    /// id of each row of `output`; other ids get no logit.
    pub head_ids: Option<Vec<u32>>,
}

impl ModelWeights {
    pub(crate) fn output(&self) -> &QWeight {
        self.output.as_ref().unwrap_or(&self.embed)
    }

    /// Makes the output matrix ready to multiply: with `ids`, only those
    /// tokens' rows (a shortlist head: the logits of other tokens are never
    /// computed). The loader leaves the output matrix in the file's layout
    /// so rows can be picked here.
    pub(crate) fn prepare_output(&mut self, ids: Option<Vec<u32>>) -> Result<()> {
        if let Some(ids) = ids {
            let short = self.output().select_rows(&ids).ok_or_else(|| {
                ExecutorError::Load(
                    "shortlist head: a token id is outside the output matrix".into(),
                )
            })?;
            self.output = Some(short.for_multiply());
            self.head_ids = Some(ids);
        } else if let Some(output) = self.output.take() {
            self.output = Some(output.for_multiply());
        }
        Ok(())
    }

    /// Every matrix in the 16-row layout back in groups of eight.
    pub(crate) fn unpair(&mut self) {
        self.embed.unpair_in_place();
        for l in &mut self.layers {
            for w in [
                &mut l.wq,
                &mut l.wk,
                &mut l.wv,
                &mut l.wo,
                &mut l.w_gate,
                &mut l.w_up,
                &mut l.w_down,
            ] {
                w.unpair_in_place();
            }
        }
        if let Some(output) = &mut self.output {
            output.unpair_in_place();
        }
    }

    /// Bytes one decode step reads: every matrix except the embedding table
    /// (only one row of it is read per token) unless it is also the output.
    pub(crate) fn bytes_per_token(&self) -> usize {
        let layer: usize = self
            .layers
            .iter()
            .map(|l| {
                [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down]
                    .iter()
                    .map(|w| w.size_in_bytes())
                    .sum::<usize>()
            })
            .sum();
        layer + self.output().size_in_bytes()
    }
}

/// What [`load`] returns: the model plus the metadata the tokenizer needs.
pub(crate) struct LoadedModel {
    pub config: ModelConfig,
    pub weights: ModelWeights,
    pub metadata: HashMap<String, Value>,
}

fn corrupt(path: &Path, reason: impl Into<String>) -> ExecutorError {
    ExecutorError::ModelCorrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

struct Reader<'a> {
    path: &'a Path,
    content: Content,
    file: BufReader<File>,
    file_len: u64,
    prefix: &'static str,
}

impl Reader<'_> {
    fn value(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(&format!("{}.{key}", self.prefix))
    }

    fn usize(&self, key: &str) -> Result<usize> {
        let v = self.value(key).ok_or_else(|| {
            corrupt(
                self.path,
                format!("metadata {}.{key} is missing", self.prefix),
            )
        })?;
        value_usize(v).ok_or_else(|| {
            corrupt(
                self.path,
                format!("metadata {}.{key} is not a count", self.prefix),
            )
        })
    }

    fn f32_or(&self, key: &str, default: f32) -> f32 {
        self.value(key).and_then(value_f32).unwrap_or(default)
    }

    fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// Reads a tensor as raw blocks, checking its type and shape.
    fn weight(&mut self, name: &str, rows: usize, cols: usize) -> Result<QWeight> {
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| corrupt(self.path, format!("tensor {name} is missing")))?;
        let format = WeightFormat::from_ggml(info.ggml_dtype).ok_or_else(|| {
            ExecutorError::Unsupported(format!(
                "{}: tensor {name} is stored as {:?}, which the batched executor has no kernel for",
                file_name(self.path),
                info.ggml_dtype
            ))
        })?;
        let dims = info.shape.dims().to_vec();
        let (r, c) = match dims.as_slice() {
            [c] => (1, *c),
            [r, c] => (*r, *c),
            _ => {
                return Err(corrupt(
                    self.path,
                    format!("tensor {name} has shape {dims:?}"),
                ))
            }
        };
        if (r, c) != (rows, cols) {
            return Err(corrupt(
                self.path,
                format!("tensor {name} has shape {r}x{c}, expected {rows}x{cols}"),
            ));
        }
        let row_bytes = format.row_bytes(cols).ok_or_else(|| {
            corrupt(
                self.path,
                format!("tensor {name}: {cols} columns do not fill {format:?} blocks"),
            )
        })?;
        let size = rows * row_bytes;
        let start = self.content.tensor_data_offset + info.offset;
        if start + size as u64 > self.file_len {
            return Err(corrupt(
                self.path,
                format!(
                    "the file is truncated: tensor {name} ends at byte {} but the file has {}",
                    start + size as u64,
                    self.file_len
                ),
            ));
        }
        let mut data = vec![0u8; size];
        self.file.seek(SeekFrom::Start(start))?;
        self.file
            .read_exact(&mut data)
            .map_err(|e| corrupt(self.path, format!("reading tensor {name}: {e}")))?;
        QWeight::new(format, rows, cols, data)
            .ok_or_else(|| corrupt(self.path, format!("tensor {name} has an inconsistent size")))
    }

    /// A matrix that is only ever multiplied, in the multiply's layout.
    fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> Result<QWeight> {
        Ok(self.weight(name, rows, cols)?.for_multiply())
    }

    fn vector(&mut self, name: &str, len: usize) -> Result<Vec<f32>> {
        Ok(self.weight(name, 1, len)?.dequantize_all())
    }
}

fn value_usize(v: &Value) -> Option<usize> {
    match v {
        Value::U8(x) => Some(*x as usize),
        Value::U16(x) => Some(*x as usize),
        Value::U32(x) => Some(*x as usize),
        Value::U64(x) => usize::try_from(*x).ok(),
        Value::I8(x) => usize::try_from(*x).ok(),
        Value::I16(x) => usize::try_from(*x).ok(),
        Value::I32(x) => usize::try_from(*x).ok(),
        Value::I64(x) => usize::try_from(*x).ok(),
        _ => None,
    }
}

fn value_f32(v: &Value) -> Option<f32> {
    match v {
        Value::F32(x) => Some(*x),
        Value::F64(x) => Some(*x as f32),
        other => value_usize(other).map(|x| x as f32),
    }
}

/// Loads a llama or qwen2 GGUF.
pub(crate) fn load(path: &Path) -> Result<LoadedModel> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ExecutorError::ModelMissing {
            path: path.to_path_buf(),
        },
        _ => ExecutorError::Io(e),
    })?;
    let file_len = file.metadata()?.len();
    let mut file = BufReader::new(file);
    let content = Content::read(&mut file).map_err(|e| {
        let reason = e.to_string();
        if reason.contains("unknown dtype") {
            ExecutorError::Unsupported(format!("{}: {reason}", file_name(path)))
        } else {
            corrupt(path, format!("unreadable GGUF header: {reason}"))
        }
    })?;
    let arch = match content.metadata.get("general.architecture") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(corrupt(path, "metadata general.architecture is missing")),
    };
    let (architecture, prefix) = match arch.as_str() {
        "llama" => (Architecture::Llama, "llama"),
        "qwen2" => (Architecture::Qwen2, "qwen2"),
        other => {
            return Err(ExecutorError::Unsupported(format!(
                "{}: architecture `{other}` (the batched executor runs llama and qwen2)",
                file_name(path)
            )))
        }
    };
    let mut r = Reader {
        path,
        content,
        file,
        file_len,
        prefix,
    };
    if r.has_tensor("rope_freqs.weight") {
        return Err(ExecutorError::Unsupported(format!(
            "{}: per-frequency RoPE factors (llama 3.1 style)",
            file_name(path)
        )));
    }
    if let Some(Value::String(kind)) = r.value("rope.scaling.type") {
        if kind != "none" {
            return Err(ExecutorError::Unsupported(format!(
                "{}: RoPE scaling `{kind}`",
                file_name(path)
            )));
        }
    }

    let layers = r.usize("block_count")?;
    let hidden = r.usize("embedding_length")?;
    let ffn_hidden = r.usize("feed_forward_length")?;
    let heads = r.usize("attention.head_count")?;
    let kv_heads = r.usize("attention.head_count_kv").unwrap_or(heads);
    if heads == 0 || kv_heads == 0 || hidden % heads != 0 || heads % kv_heads != 0 {
        return Err(corrupt(
            path,
            format!(
                "inconsistent attention shape: {heads} heads, {kv_heads} kv heads, width {hidden}"
            ),
        ));
    }
    let head_dim = hidden / heads;
    let rope_dim = r.usize("rope.dimension_count").unwrap_or(head_dim);
    if rope_dim > head_dim || !rope_dim.is_multiple_of(2) {
        return Err(corrupt(
            path,
            format!("RoPE dimension {rope_dim} for head size {head_dim}"),
        ));
    }
    let vocab = r
        .content
        .tensor_infos
        .get("token_embd.weight")
        .and_then(|i| i.shape.dims().first().copied())
        .ok_or_else(|| corrupt(path, "tensor token_embd.weight is missing"))?;
    let config = ModelConfig {
        architecture,
        layers,
        hidden,
        heads,
        kv_heads,
        head_dim,
        ffn_hidden,
        vocab,
        rope_base: r.f32_or("rope.freq_base", 10_000.0),
        rope_dim,
        rope_interleaved: architecture == Architecture::Llama,
        rms_eps: r.f32_or(
            "attention.layer_norm_rms_epsilon",
            if architecture == Architecture::Llama {
                1e-5
            } else {
                1e-6
            },
        ),
        context_length: r.usize("context_length").unwrap_or(4096),
    };

    // The embedding table is read a row at a time (and is the output matrix
    // too when tied), so it keeps the file's layout; matrices that are only
    // multiplied get the multiply's preferred one.
    let embed = r.weight("token_embd.weight", vocab, hidden)?;
    let kv_dim = config.kv_dim();
    let mut layer_weights = Vec::with_capacity(layers);
    for i in 0..layers {
        let p = format!("blk.{i}");
        let bias = |r: &mut Reader<'_>, name: &str, len: usize| -> Result<Option<Vec<f32>>> {
            let full = format!("{p}.{name}");
            if r.has_tensor(&full) {
                r.vector(&full, len).map(Some)
            } else {
                Ok(None)
            }
        };
        layer_weights.push(LayerWeights {
            attn_norm: r.vector(&format!("{p}.attn_norm.weight"), hidden)?,
            wq: r.matrix(&format!("{p}.attn_q.weight"), hidden, hidden)?,
            wk: r.matrix(&format!("{p}.attn_k.weight"), kv_dim, hidden)?,
            wv: r.matrix(&format!("{p}.attn_v.weight"), kv_dim, hidden)?,
            bq: bias(&mut r, "attn_q.bias", hidden)?,
            bk: bias(&mut r, "attn_k.bias", kv_dim)?,
            bv: bias(&mut r, "attn_v.bias", kv_dim)?,
            wo: r.matrix(&format!("{p}.attn_output.weight"), hidden, hidden)?,
            ffn_norm: r.vector(&format!("{p}.ffn_norm.weight"), hidden)?,
            w_gate: r.matrix(&format!("{p}.ffn_gate.weight"), ffn_hidden, hidden)?,
            w_up: r.matrix(&format!("{p}.ffn_up.weight"), ffn_hidden, hidden)?,
            w_down: r.matrix(&format!("{p}.ffn_down.weight"), hidden, ffn_hidden)?,
        });
    }
    let out_norm = r.vector("output_norm.weight", hidden)?;
    // In the file's layout until `ModelWeights::prepare_output`.
    let output = if r.has_tensor("output.weight") {
        Some(r.weight("output.weight", vocab, hidden)?)
    } else {
        None
    };
    Ok(LoadedModel {
        config,
        weights: ModelWeights {
            embed,
            layers: layer_weights,
            out_norm,
            output,
            head_ids: None,
        },
        metadata: r.content.metadata,
    })
}
