//! The exact-match judge: the cheapest test, and the shortcut in front of the
//! model judges.

use std::time::Instant;

use super::{Judge, JudgeVerdict};
use crate::error::Result;

/// Accepts a drafted step only when it equals the target's step after
/// lower-casing and removing all whitespace. Never wrong when it accepts, so
/// with it Lookahead Reasoning returns the target's own answer.
#[derive(Clone, Debug, Default)]
pub struct ExactJudge;

impl ExactJudge {
    pub fn new() -> Self {
        Self
    }
}

impl Judge for ExactJudge {
    fn name(&self) -> String {
        "exact".to_string()
    }

    fn judge(&mut self, target_step: &str, drafted_step: &str) -> Result<JudgeVerdict> {
        let started = Instant::now();
        let accepted = same_text(target_step, drafted_step);
        Ok(JudgeVerdict {
            accepted,
            score: Some(if accepted { 1.0 } else { 0.0 }),
            latency: started.elapsed(),
        })
    }
}

/// Equal after lower-casing and dropping whitespace. Compares the two
/// character streams directly, so no normalised copies are built.
pub fn same_text(a: &str, b: &str) -> bool {
    fn normalised(s: &str) -> impl Iterator<Item = char> + '_ {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
    }
    normalised(a).eq(normalised(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_whitespace_do_not_matter() {
        assert!(same_text("3 + 4 = 7\n\n", "3+4=7"));
        assert!(same_text("The Total", "the\ttotal "));
        assert!(!same_text("3 + 4 = 7", "3 + 4 = 8"));
        assert!(same_text("", " \n"));
    }
}
