//! Files the executor refuses, with the error the caller acts on:
//! `Unsupported` (fall back to mistral.rs) or `ModelCorrupt`.

use std::io::Write;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use lookahead_engine::EngineError;
use lookahead_executor::{Executor, ExecutorOptions};

use crate::common::{model_path, SMOL};

fn load(path: &std::path::Path) -> EngineError {
    Executor::load(path, ExecutorOptions::default())
        .expect_err("must be refused")
        .into()
}

fn write_gguf(path: &std::path::Path, arch: &str, embed_dtype: GgmlDType) {
    let md = [
        ("general.architecture", Value::String(arch.into())),
        (&*format!("{arch}.block_count"), Value::U32(1)),
        (&*format!("{arch}.embedding_length"), Value::U32(256)),
        (&*format!("{arch}.feed_forward_length"), Value::U32(512)),
        (&*format!("{arch}.attention.head_count"), Value::U32(4)),
    ]
    .map(|(k, v)| (k.to_string(), v));
    let md: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let embed = Tensor::zeros((32, 256), candle_core::DType::F32, &Device::Cpu).unwrap();
    let embed = QTensor::quantize(&embed, embed_dtype).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut f, &md, &[("token_embd.weight", &embed)]).unwrap();
}

#[test]
fn unsupported_architectures_and_tensor_types_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phi.gguf");
    write_gguf(&path, "phi2", GgmlDType::Q8_0);
    match load(&path) {
        EngineError::Unsupported(what) => assert!(what.contains("phi2"), "{what}"),
        other => panic!("wrong error: {other}"),
    }
    let path = dir.path().join("q2k.gguf");
    write_gguf(&path, "llama", GgmlDType::Q2K);
    match load(&path) {
        EngineError::Unsupported(what) => {
            assert!(
                what.contains("Q2K") && what.contains("token_embd"),
                "{what}"
            )
        }
        other => panic!("wrong error: {other}"),
    }
}

#[test]
fn truncated_and_garbage_files_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(model_path(SMOL)).unwrap();
    for (name, bytes) in [
        ("half.gguf", &full[..full.len() / 2]),
        ("header.gguf", &full[..4096]),
        ("magic.gguf", b"GGUF\x03\x00\x00\x00".as_slice()),
        ("text.gguf", b"this is not a model".as_slice()),
    ] {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        match load(&path) {
            EngineError::ModelCorrupt { path: p, reason } => {
                assert_eq!(p, path);
                if name == "half.gguf" {
                    assert!(reason.contains("truncated"), "{reason}");
                }
            }
            other => panic!("{name}: wrong error: {other}"),
        }
    }
    match load(&dir.path().join("missing.gguf")) {
        EngineError::ModelMissing { .. } => {}
        other => panic!("wrong error: {other}"),
    }
}
