//! Reads what we need to know about a GGUF file before handing it to a
//! backend: that it is complete, what architecture it is, and which
//! vocabulary it speaks (two models can share speculation only if equal).

use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};

/// Architectures the mistral.rs 0.8.1 GGUF loader accepts.
pub const SUPPORTED_ARCHITECTURES: [&str; 8] = [
    "llama",
    "mistral3",
    "phi2",
    "phi3",
    "starcoder2",
    "qwen2",
    "qwen3",
    "qwen3moe",
];

/// A summary of one GGUF model file.
#[derive(Clone, Debug)]
pub struct GgufInfo {
    pub path: PathBuf,
    pub architecture: String,
    pub file_bytes: u64,
    pub vocabulary_size: usize,
    /// sha256 over the token strings: equal fingerprints = same vocabulary.
    pub vocabulary_fingerprint: String,
    pub context_length: Option<usize>,
    pub eos_token_id: Option<u32>,
    /// The Jinja chat template the file carries (`tokenizer.chat_template`).
    pub chat_template: Option<String>,
    /// The text of the begin/end-of-sequence tokens, for the template.
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
}

impl GgufInfo {
    /// The file name, used as the model's display name.
    pub fn name(&self) -> String {
        model_name(&self.path)
    }
}

/// The file name of a model path (what people recognise it by).
pub fn model_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Opens and checks a GGUF file: it exists, its header parses, every tensor's
/// data lies inside the file (a truncated download fails here, not halfway
/// through loading), and its architecture is one we can run.
pub fn inspect(path: &Path, role: &str) -> Result<GgufInfo> {
    let corrupt = |reason: String| EngineError::ModelCorrupt {
        path: path.to_path_buf(),
        reason,
    };
    // Look before opening: opening a named pipe would wait for a writer.
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => EngineError::ModelMissing {
            role: role.to_string(),
            path: path.to_path_buf(),
        },
        _ => EngineError::Io(e),
    })?;
    if meta.is_dir() {
        return Err(corrupt("this is a folder, not a GGUF file".into()));
    }
    if !meta.is_file() {
        return Err(corrupt(
            "this is not an ordinary file (a pipe or a device, say)".into(),
        ));
    }
    let file = File::open(path)?;
    let file_bytes = file.metadata()?.len();
    let mut reader = BufReader::new(file);
    // Every length and count in the header must fit in the file before
    // candle's reader, which allocates what the header claims, sees it.
    crate::gguf_scan::check_header(&mut reader, file_bytes).map_err(corrupt)?;
    reader.rewind()?;
    let content = gguf_file::Content::read(&mut reader)
        .map_err(|e| corrupt(format!("the GGUF header cannot be read: {e}")))?;

    let data_end = content
        .tensor_infos
        .values()
        .map(|t| {
            let elems = t.shape.elem_count() as u64;
            let block = t.ggml_dtype.block_size() as u64;
            content.tensor_data_offset + t.offset + elems / block * t.ggml_dtype.type_size() as u64
        })
        .max()
        .unwrap_or(content.tensor_data_offset);
    if data_end > file_bytes {
        return Err(corrupt(format!(
            "the file is truncated: {file_bytes} bytes, its tensors need {data_end}"
        )));
    }

    let meta = |key: &str| content.metadata.get(key);
    let architecture = meta("general.architecture")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .ok_or_else(|| corrupt("it names no architecture".into()))?;
    if !SUPPORTED_ARCHITECTURES.contains(&architecture.as_str()) {
        return Err(EngineError::Unsupported(format!(
            "architecture \"{architecture}\" in {}",
            model_name(path)
        )));
    }
    let tokens = meta("tokenizer.ggml.tokens")
        .and_then(|v| v.to_vec().ok())
        .ok_or_else(|| corrupt("it carries no tokenizer".into()))?;
    let mut hasher = Sha256::new();
    for token in tokens {
        if let Ok(text) = token.to_string() {
            hasher.update(text.as_bytes());
        }
        hasher.update([0u8]);
    }
    let context_length = meta(&format!("{architecture}.context_length"))
        .and_then(|v| v.to_u64().ok().or_else(|| v.to_u32().ok().map(u64::from)))
        .map(|n| n as usize);
    let eos_token_id = meta("tokenizer.ggml.eos_token_id").and_then(|v| v.to_u32().ok());
    let token_text = |key: &str| {
        let id = meta(key).and_then(|v| v.to_u32().ok())? as usize;
        tokens.get(id)?.to_string().ok().cloned()
    };
    let bos_token = token_text("tokenizer.ggml.bos_token_id");
    let eos_token = token_text("tokenizer.ggml.eos_token_id");
    let chat_template = meta("tokenizer.chat_template")
        .and_then(|v| v.to_string().ok())
        .cloned();

    Ok(GgufInfo {
        path: path.to_path_buf(),
        architecture,
        file_bytes,
        vocabulary_size: tokens.len(),
        vocabulary_fingerprint: hex::encode(hasher.finalize()),
        context_length,
        eos_token_id,
        chat_template,
        bos_token,
        eos_token,
    })
}

/// Speculation (token or step level) needs both models to read and write the
/// same tokens.
pub fn check_pair(draft: &GgufInfo, target: &GgufInfo) -> Result<()> {
    if draft.vocabulary_fingerprint == target.vocabulary_fingerprint {
        return Ok(());
    }
    Err(EngineError::TokenizerMismatch {
        draft: draft.name(),
        target: target.name(),
        detail: format!(
            "vocabulary of {} vs {} tokens, different token lists",
            draft.vocabulary_size, target.vocabulary_size
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::inspect;
    use crate::error::EngineError;

    /// The crafted files of the reliability review: each once aborted or
    /// panicked the process; now each is a plain "damaged file" error.
    #[test]
    fn crafted_headers_are_damaged_files_not_crashes() {
        use crate::gguf_scan::crafted::{huge_array, huge_string, max_key};
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, bytes) in [
            ("string.gguf", huge_string()),
            ("key.gguf", max_key()),
            ("array.gguf", huge_array()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            match inspect(&path, "target") {
                Err(EngineError::ModelCorrupt { reason, .. }) => {
                    assert!(reason.contains("header"), "{name}: {reason}")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_named_pipe_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("pipe.gguf");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        match inspect(&path, "target") {
            Err(EngineError::ModelCorrupt { reason, .. }) => {
                assert!(reason.contains("not an ordinary file"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
}
