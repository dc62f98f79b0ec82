//! A Hugging Face `tokenizers::Tokenizer` rebuilt from GGUF metadata.
//!
//! mistral.rs's converter is private, so this mirrors what it builds for
//! `tokenizer.ggml.model = "gpt2"` (mistralrs-core 0.8.1,
//! `gguf/gguf_tokenizer.rs`): byte-level BPE from the token list and merges,
//! one split regex for every gpt2-style model (it ignores
//! `tokenizer.ggml.pre`), every token whose type is not "normal" added as a
//! special token. Matching it keeps our token ids equal to mistral.rs's for
//! the same text, so both backends see identical prompts.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::tokenizer::normalizer::SplitDelimiterBehavior;
use tokenizers::{AddedToken, Tokenizer};

use crate::error::{ExecutorError, Result};

/// The split regex mistral.rs uses for all GGUF BPE tokenizers.
const SPLIT_REGEX: &str = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/// Token texts that end an assistant turn in the chat formats we run.
const END_TOKENS: [&str; 2] = ["<|im_end|>", "<|endoftext|>"];

/// A GGUF model's tokenizer plus the ids that end a sequence.
pub struct GgufTokenizer {
    inner: Tokenizer,
    tokens: Vec<String>,
    end_ids: Vec<u32>,
    bos: Option<u32>,
    add_bos: bool,
    vocab_id: u64,
}

impl std::fmt::Debug for GgufTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufTokenizer")
            .field("vocab", &self.tokens.len())
            .field("end_ids", &self.end_ids)
            .finish()
    }
}

fn meta<'a>(md: &'a HashMap<String, Value>, key: &str) -> Option<&'a Value> {
    md.get(&format!("tokenizer.ggml.{key}"))
}

fn meta_u32(md: &HashMap<String, Value>, key: &str) -> Option<u32> {
    meta(md, key).and_then(|v| v.to_u32().ok())
}

fn meta_strings(md: &HashMap<String, Value>, key: &str) -> Option<Vec<String>> {
    let list = meta(md, key)?.to_vec().ok()?;
    list.iter().map(|v| v.to_string().ok().cloned()).collect()
}

impl GgufTokenizer {
    /// Builds the tokenizer; `model_name` only labels errors.
    pub(crate) fn from_metadata(md: &HashMap<String, Value>, model_name: &str) -> Result<Self> {
        let kind = match meta(md, "model") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(ExecutorError::Unsupported(format!(
                    "{model_name}: no tokenizer in the GGUF metadata"
                )))
            }
        };
        if kind != "gpt2" {
            return Err(ExecutorError::Unsupported(format!(
                "{model_name}: tokenizer type `{kind}` (the batched executor reads byte-level BPE, `gpt2`)"
            )));
        }
        let bad = |what: &str| ExecutorError::Load(format!("{model_name}: tokenizer {what}"));
        let tokens = meta_strings(md, "tokens").ok_or_else(|| bad("token list is missing"))?;
        let merges: Vec<(String, String)> = meta_strings(md, "merges")
            .ok_or_else(|| bad("merges are missing"))?
            .into_iter()
            .map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| bad(&format!("merge `{m}` is not a pair")))
            })
            .collect::<Result<_>>()?;
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let unk = meta_u32(md, "unknown_token_id");
        let mut builder = BPE::builder().vocab_and_merges(vocab, merges);
        if let Some(t) = unk.and_then(|u| tokens.get(u as usize)) {
            builder = builder.unk_token(t.clone());
        }
        let bpe = builder
            .build()
            .map_err(|e| bad(&format!("BPE model: {e}")))?;
        let mut inner = Tokenizer::new(bpe);
        let split = Split::new(
            SplitPattern::Regex(SPLIT_REGEX.to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| bad(&format!("split regex: {e}")))?;
        inner.with_pre_tokenizer(Some(Sequence::new(vec![
            PreTokenizerWrapper::Split(split),
            PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, false)),
        ])));
        inner.with_decoder(Some(ByteLevel::new(false, false, false)));
        inner.with_post_processor(Some(ByteLevel::new(false, false, false)));

        let types: Vec<i64> = meta(md, "token_type")
            .and_then(|v| v.to_vec().ok())
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.to_i32().ok().map(i64::from))
                    .collect()
            })
            .unwrap_or_default();
        let eos = meta_u32(md, "eos_token_id");
        let bos = meta_u32(md, "bos_token_id");
        let mut special: Vec<AddedToken> = Vec::new();
        if types.len() == tokens.len() {
            special.extend(
                tokens
                    .iter()
                    .zip(&types)
                    .filter(|(_, &t)| t != 1)
                    .map(|(tok, _)| AddedToken::from(tok.clone(), true)),
            );
        }
        for id in [bos, eos, unk].into_iter().flatten() {
            if let Some(t) = tokens.get(id as usize) {
                special.push(AddedToken::from(t.clone(), true));
            }
        }
        inner.add_special_tokens(&special);

        let mut end_ids: Vec<u32> = eos.into_iter().collect();
        for t in END_TOKENS {
            if let Some(id) = tokens.iter().position(|x| x == t) {
                let id = id as u32;
                if !end_ids.contains(&id) {
                    end_ids.push(id);
                }
            }
        }
        let add_bos = matches!(meta(md, "add_bos_token"), Some(Value::Bool(true)));
        let vocab_id = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            tokens.hash(&mut h);
            end_ids.hash(&mut h);
            h.finish()
        };
        Ok(Self {
            inner,
            tokens,
            end_ids,
            bos,
            add_bos,
            vocab_id,
        })
    }

    /// Token ids of `text`, special-token markers (`<|im_start|>` …)
    /// becoming their ids, BOS first when the model asks for it.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids: Vec<u32> = self.lead().to_vec();
        ids.extend(self.encode_piece(text)?);
        Ok(ids)
    }

    /// Token ids of `text` as a continuation: no BOS.
    pub fn encode_piece(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| ExecutorError::Generation(format!("tokenizing: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    /// What starts every encoded text: the BOS token when the model asks
    /// for one, else nothing.
    pub fn lead(&self) -> &[u32] {
        match (&self.bos, self.add_bos) {
            (Some(bos), true) => std::slice::from_ref(bos),
            _ => &[],
        }
    }

    /// A fingerprint of the vocabulary (token texts and end ids): two
    /// tokenizers with the same one give the same ids the same meaning,
    /// so ids one model produced can be fed to the other unchanged.
    /// Stable within a process only.
    pub fn vocab_id(&self) -> u64 {
        self.vocab_id
    }

    /// The text of `ids`, special tokens written out.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| ExecutorError::Generation(format!("detokenizing: {e}")))
    }

    /// Whether `id` ends the sequence (EOS, `<|im_end|>`, `<|endoftext|>`).
    pub fn is_end(&self, id: u32) -> bool {
        self.end_ids.contains(&id)
    }

    pub fn end_ids(&self) -> &[u32] {
        &self.end_ids
    }

    /// The vocabulary as the GGUF lists it (index = id).
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// Why two tokenizers cannot share token ids, or `None` when they can.
    pub fn incompatibility(&self, other: &GgufTokenizer) -> Option<String> {
        if self.tokens.len() != other.tokens.len() {
            return Some(format!(
                "vocabularies of {} and {} tokens",
                self.tokens.len(),
                other.tokens.len()
            ));
        }
        if let Some(i) = self
            .tokens
            .iter()
            .zip(&other.tokens)
            .position(|(a, b)| a != b)
        {
            return Some(format!(
                "token {i} is `{}` in one and `{}` in the other",
                self.tokens[i], other.tokens[i]
            ));
        }
        if self.end_ids != other.end_ids {
            return Some(format!(
                "end-of-sequence ids {:?} and {:?}",
                self.end_ids, other.end_ids
            ));
        }
        None
    }
}

/// Turns generated ids into text piece by piece. Decoding the whole tail
/// each time (not token by token) keeps multi-byte characters split across
/// tokens intact: a piece is released only once it decodes cleanly.
#[derive(Debug, Default, Clone)]
pub struct StreamDecoder {
    ids: Vec<u32>,
    /// Ids before this index are already fully reflected in the text.
    prefix_start: usize,
    prefix_end: usize,
}

impl StreamDecoder {
    /// Adds `id`; returns the new text it completes (may be empty).
    pub fn push(&mut self, tok: &GgufTokenizer, id: u32) -> Result<String> {
        self.ids.push(id);
        let prefix = tok.decode(&self.ids[self.prefix_start..self.prefix_end])?;
        let full = tok.decode(&self.ids[self.prefix_start..])?;
        match full.get(prefix.len()..) {
            Some(piece)
                if !piece.is_empty()
                    && !full.ends_with('\u{FFFD}')
                    && full.starts_with(&prefix) =>
            {
                let piece = piece.to_string();
                self.prefix_start = self.prefix_end;
                self.prefix_end = self.ids.len();
                Ok(piece)
            }
            _ => Ok(String::new()),
        }
    }

    /// Text held back so far (an incomplete character at the very end),
    /// released as is when generation stops.
    pub fn flush(&mut self, tok: &GgufTokenizer) -> Result<String> {
        if self.prefix_end == self.ids.len() {
            return Ok(String::new());
        }
        let prefix = tok.decode(&self.ids[self.prefix_start..self.prefix_end])?;
        let full = tok.decode(&self.ids[self.prefix_start..])?;
        self.prefix_start = self.prefix_end;
        self.prefix_end = self.ids.len();
        Ok(full.get(prefix.len()..).unwrap_or_default().to_string())
    }
}
