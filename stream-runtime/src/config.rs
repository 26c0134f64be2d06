//! Per-pipeline settings.

use crate::keyed::KeyGroups;

/// How a pipeline batches and spreads its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Records a token carries per round (at least 1). A batch size of 1 is
    /// the seed's one-record-per-token design.
    pub batch_size: u32,
    /// How many key groups hold the keyed state. Durable: see [`KeyGroups`].
    pub key_groups: KeyGroups,
}

impl PipelineConfig {
    /// The default batch size.
    pub const DEFAULT_BATCH_SIZE: u32 = 100;
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            batch_size: Self::DEFAULT_BATCH_SIZE,
            key_groups: KeyGroups::DEFAULT,
        }
    }
}
