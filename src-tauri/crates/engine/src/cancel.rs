use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A cheap, cloneable flag that asks running work to stop as soon as it can.
/// Generation loops check it between tokens, so a cancel takes effect within
/// one decode step.
#[derive(Clone, Debug, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// The flag itself, for code that sets it from elsewhere (a signal
    /// handler: Ctrl-C in the CLI).
    pub fn shared(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}
