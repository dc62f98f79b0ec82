//! What a model is asked to continue, as pieces of text that carry their
//! token ids once they are known.
//!
//! The scheduler builds every request from the same few pieces: the chat
//! prompt, the steps kept so far, the drafted steps of a round. A piece a
//! model wrote carries the ids it was written in; a piece of new text (the
//! prompt, a step the calculator corrected) is encoded the first time a
//! token backend reads it and keeps those ids for every later call. So the
//! executor never re-encodes the prompt and the answer on each call, and
//! what it feeds the model is exactly what the model produced (no drift
//! from re-tokenizing generated text). Text backends (mistral.rs, an
//! inference server) read [`Context::text`].

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

/// Token ids and the vocabulary they belong to (see
/// `GgufTokenizer::vocab_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenIds {
    pub vocab: u64,
    pub ids: Vec<u32>,
}

#[derive(Debug)]
struct PieceInner {
    text: String,
    ids: OnceLock<TokenIds>,
}

/// A piece of text, shared cheaply, with the ids of the first vocabulary
/// that encoded (or wrote) it. Ids never include a BOS token: a piece
/// continues a text.
#[derive(Clone, Debug)]
pub struct Piece(Arc<PieceInner>);

impl Piece {
    /// New text, encoded when a token backend first reads it.
    pub fn new(text: impl Into<String>) -> Self {
        Self(Arc::new(PieceInner {
            text: text.into(),
            ids: OnceLock::new(),
        }))
    }

    /// Text a model wrote, with the ids it wrote it in.
    pub fn written(text: impl Into<String>, ids: TokenIds) -> Self {
        let piece = Self::new(text);
        let _ = piece.0.ids.set(ids);
        piece
    }

    pub fn text(&self) -> &str {
        &self.0.text
    }

    /// The ids in `vocab`, if this piece has them.
    pub fn ids_in(&self, vocab: u64) -> Option<&[u32]> {
        self.0
            .ids
            .get()
            .filter(|t| t.vocab == vocab)
            .map(|t| t.ids.as_slice())
    }

    /// The ids in `vocab`: the known ones, else `encode(text)`, kept when
    /// the piece has no ids yet (every later call reuses them).
    pub fn ids_or_encode<E>(
        &self,
        vocab: u64,
        encode: impl FnOnce(&str) -> Result<Vec<u32>, E>,
    ) -> Result<Cow<'_, [u32]>, E> {
        if let Some(ids) = self.ids_in(vocab) {
            return Ok(Cow::Borrowed(ids));
        }
        let ids = encode(&self.0.text)?;
        if self.0.ids.get().is_none() {
            let _ = self.0.ids.set(TokenIds {
                vocab,
                ids: ids.clone(),
            });
        }
        Ok(Cow::Owned(ids))
    }
}

/// Pieces are equal when their texts are: ids are how a text was read.
impl PartialEq for Piece {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl From<&str> for Piece {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<&String> for Piece {
    fn from(text: &String) -> Self {
        Self::new(text.as_str())
    }
}

impl From<String> for Piece {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

/// The text a request continues: the chat prompt, then the answer so far,
/// then (for Lookahead branches) drafted steps, piece by piece.
#[derive(Clone, Debug, Default)]
pub struct Context {
    pieces: Vec<Piece>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, piece: Piece) {
        self.pieces.push(piece);
    }

    /// This context followed by `piece`.
    pub fn then(&self, piece: Piece) -> Self {
        let mut next = self.clone();
        next.push(piece);
        next
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The whole text (what a text backend sends).
    pub fn text(&self) -> String {
        self.pieces.iter().map(Piece::text).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.iter().all(|p| p.text().is_empty())
    }
}

impl From<Piece> for Context {
    fn from(piece: Piece) -> Self {
        Self {
            pieces: vec![piece],
        }
    }
}

impl From<&str> for Context {
    fn from(text: &str) -> Self {
        Piece::new(text).into()
    }
}

impl From<&String> for Context {
    fn from(text: &String) -> Self {
        Piece::new(text.as_str()).into()
    }
}

impl From<String> for Context {
    fn from(text: String) -> Self {
        Piece::new(text).into()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_is_encoded_once_per_vocabulary_it_keeps() {
        let piece = Piece::new("two words");
        let mut calls = 0;
        let mut encode = |t: &str| -> Result<Vec<u32>, ()> {
            calls += 1;
            Ok(t.split(' ').map(|w| w.len() as u32).collect())
        };
        assert_eq!(&*piece.ids_or_encode(7, &mut encode).unwrap(), &[3, 5]);
        assert_eq!(&*piece.ids_or_encode(7, &mut encode).unwrap(), &[3, 5]);
        // A clone shares what was learnt.
        assert_eq!(piece.clone().ids_in(7), Some(&[3u32, 5][..]));
        // Another vocabulary encodes for itself and keeps nothing.
        assert_eq!(&*piece.ids_or_encode(8, &mut encode).unwrap(), &[3, 5]);
        assert_eq!(piece.ids_in(8), None);
        assert_eq!(calls, 2);
    }

    #[test]
    fn written_text_carries_the_ids_it_was_written_in() {
        let piece = Piece::written(
            "ab",
            TokenIds {
                vocab: 1,
                ids: vec![9, 9, 9],
            },
        );
        let used = piece
            .ids_or_encode(1, |_| -> Result<Vec<u32>, ()> { Err(()) })
            .unwrap();
        assert_eq!(&*used, &[9, 9, 9]);
    }

    #[test]
    fn a_context_reads_as_its_pieces_in_order() {
        let ctx = Context::from("prompt ").then(Piece::new("step one\n\n"));
        assert_eq!(ctx.text(), "prompt step one\n\n");
        assert_eq!(ctx.pieces().len(), 2);
        assert!(!ctx.is_empty());
        assert!(Context::new().is_empty());
    }
}
