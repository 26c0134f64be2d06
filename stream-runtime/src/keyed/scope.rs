use super::Timers;
use crate::time::Millis;

/// What a keyed stage sees of time in one call of its key group: the
/// watermark and the wall clock (journaled, so a replay sees the same
/// value), and the group's timers, which it sets and clears.
#[derive(Debug)]
pub struct Scope<'a> {
    /// The group's watermark for this call (`Millis::MIN` before any).
    pub watermark: Millis,
    /// The wall clock, read once per call (0 when the stage uses none).
    pub now: Millis,
    /// The group's timers.
    pub timers: &'a mut Timers,
}
