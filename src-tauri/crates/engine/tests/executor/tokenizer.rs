//! The GGUF tokenizer: text survives encode → decode, end tokens are known.

use crate::common::{load, shared_smol, QWEN_DRAFT};
use crate::mistral::TEXTS;
use lookahead_executor::ExecutorOptions;

#[test]
fn text_round_trips_through_the_tokenizer() {
    let smol = shared_smol();
    let qwen = load(QWEN_DRAFT, ExecutorOptions::default());
    for exec in [smol, qwen] {
        let tok = exec.tokenizer();
        for text in TEXTS {
            let ids = tok.encode(text).unwrap();
            assert_eq!(tok.decode(&ids).unwrap(), text, "{}", exec.name());
        }
        // ChatML markers are single special tokens that end the turn.
        let ids = tok.encode("<|im_end|>").unwrap();
        assert_eq!(ids.len(), 1);
        assert!(tok.is_end(ids[0]));
        assert!(!tok.is_end(tok.encode("end").unwrap()[0]));
    }
}
