//! Window assignment: `WindowSpec` and its shapes (`tumbling`, `sliding`,
//! `session`), `Window`, and which windows a record at a time belongs to
//! and when one is too late.

use std::marker::PhantomData;
use std::time::Duration;

use super::{OnEventTime, OnProcessingTime};
use crate::time::{millis, Millis};

/// The shape of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows of `size` (Flink's `TumblingEventTimeWindows`).
    Tumbling {
        /// Each window's length, in milliseconds.
        size: Millis,
    },
    /// Windows of `size` starting every `slide` (Flink's `SlidingEventTimeWindows`).
    Sliding {
        /// Each window's length, in milliseconds.
        size: Millis,
        /// The distance between window starts, in milliseconds.
        slide: Millis,
    },
    /// A key's records closer than `gap` to each other (Flink's `EventTimeSessionWindows`).
    Session {
        /// The inactivity that closes a session, in milliseconds.
        gap: Millis,
    },
}

/// A window specification: its shape, its allowed lateness, and its time
/// domain `D` ([`OnEventTime`] unless [`processing_time`](Self::processing_time)).
///
/// ```
/// use std::time::Duration;
/// use stream_runtime::window::{sliding, tumbling, Window};
///
/// let spec = tumbling(Duration::from_secs(10));
/// assert_eq!(spec.windows(12_345), [Window { start: 10_000, end: 20_000 }]);
/// let spec = sliding(Duration::from_secs(10), Duration::from_secs(5));
/// assert_eq!(spec.windows(12_345).len(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec<D = OnEventTime> {
    kind: WindowKind,
    lateness: Millis,
    domain: PhantomData<D>,
}

/// One window: `[start, end)` in milliseconds.
///
/// ```
/// use stream_runtime::window::Window;
///
/// let minute = Window { start: 60_000, end: 120_000 };
/// // It fires when the watermark reaches its last millisecond.
/// assert_eq!(minute.max_time(), 119_999);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    /// The first millisecond.
    pub start: Millis,
    /// The millisecond after the last.
    pub end: Millis,
}

impl Window {
    /// The window's last millisecond: it fires when the watermark reaches it.
    pub fn max_time(&self) -> Millis {
        self.end.saturating_sub(1)
    }
}

fn positive(duration: Duration) -> Millis {
    millis(duration).max(1)
}

/// Tumbling windows of `size`: each record in exactly one, aligned to the
/// epoch (Flink's `TumblingEventTimeWindows.of(size)`).
///
/// ```
/// use std::time::Duration;
/// use stream_runtime::window::{tumbling, Window};
///
/// let windows = tumbling(Duration::from_secs(10)).windows(12_500);
/// assert_eq!(windows, [Window { start: 10_000, end: 20_000 }]);
/// ```
pub fn tumbling(size: Duration) -> WindowSpec {
    WindowSpec::new(WindowKind::Tumbling {
        size: positive(size),
    })
}

/// Sliding windows of `size`, one starting every `slide`: a record is in
/// `size / slide` of them (Flink's `SlidingEventTimeWindows.of(size, slide)`).
///
/// ```
/// use std::time::Duration;
/// use stream_runtime::window::{sliding, Window};
///
/// let windows = sliding(Duration::from_secs(10), Duration::from_secs(5)).windows(12_500);
/// assert_eq!(
///     windows,
///     [Window { start: 10_000, end: 20_000 }, Window { start: 5_000, end: 15_000 }]
/// );
/// ```
pub fn sliding(size: Duration, slide: Duration) -> WindowSpec {
    WindowSpec::new(WindowKind::Sliding {
        size: positive(size),
        slide: positive(slide),
    })
}

/// Session windows closed by `gap` of inactivity per key (Flink's
/// `EventTimeSessionWindows.withGap(gap)`): a record opens `[time, time +
/// gap)`, and sessions of one key that overlap merge.
///
/// ```
/// use std::time::Duration;
/// use stream_runtime::window::{session, Window};
///
/// let own = session(Duration::from_secs(30)).windows(1_000);
/// assert_eq!(own, [Window { start: 1_000, end: 31_000 }]);
/// ```
pub fn session(gap: Duration) -> WindowSpec {
    WindowSpec::new(WindowKind::Session { gap: positive(gap) })
}

impl WindowSpec {
    fn new(kind: WindowKind) -> Self {
        Self {
            kind,
            lateness: 0,
            domain: PhantomData,
        }
    }

    /// The same windows on processing time.
    pub fn processing_time(self) -> WindowSpec<OnProcessingTime> {
        WindowSpec {
            kind: self.kind,
            lateness: self.lateness,
            domain: PhantomData,
        }
    }
}

impl<D> WindowSpec<D> {
    /// Keeps each window `lateness` past its end, re-emitting its updated
    /// result for each late record (Flink's `allowedLateness`).
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.lateness = millis(lateness);
        self
    }

    /// The shape and lateness, without the domain.
    pub(crate) fn shape(self) -> WindowSpec {
        WindowSpec {
            kind: self.kind,
            lateness: self.lateness,
            domain: PhantomData,
        }
    }

    /// The shape.
    pub fn kind(&self) -> WindowKind {
        self.kind
    }

    /// The allowed lateness, in milliseconds.
    pub fn lateness(&self) -> Millis {
        self.lateness
    }

    /// The windows a record at `time` belongs to (for a session: its own
    /// session before merging).
    pub fn windows(&self, time: Millis) -> Vec<Window> {
        match self.kind {
            WindowKind::Tumbling { size } => {
                let start = time - time.rem_euclid(size);
                vec![Window {
                    start,
                    end: start.saturating_add(size),
                }]
            }
            WindowKind::Sliding { size, slide } => {
                let mut start = time - time.rem_euclid(slide);
                let mut windows = Vec::new();
                while start > time.saturating_sub(size) {
                    windows.push(Window {
                        start,
                        end: start.saturating_add(size),
                    });
                    start -= slide;
                }
                windows
            }
            WindowKind::Session { gap } => vec![Window {
                start: time,
                end: time.saturating_add(gap),
            }],
        }
    }

    /// When the window is cleaned up: past this, its records are late.
    pub fn cleanup_time(&self, window: &Window) -> Millis {
        window.max_time().saturating_add(self.lateness)
    }

    /// Whether a window fired takes late records for a while, and fires
    /// again with each.
    pub(crate) fn allows_lateness(&self) -> bool {
        self.lateness > 0
    }

    /// Whether a record for `window` is too late at `watermark`.
    pub fn is_late(&self, window: &Window, watermark: Millis) -> bool {
        self.cleanup_time(window) <= watermark
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn records_fall_in_the_windows_flink_gives_them() {
        let tumbling = tumbling(secs(10));
        assert_eq!(
            tumbling.windows(0),
            [Window {
                start: 0,
                end: 10_000
            }]
        );
        assert_eq!(tumbling.windows(9_999)[0].start, 0);
        assert_eq!(
            tumbling.windows(-1)[0],
            Window {
                start: -10_000,
                end: 0
            }
        );

        let sliding = sliding(secs(30), secs(10));
        let starts: Vec<Millis> = sliding.windows(25_000).iter().map(|w| w.start).collect();
        assert_eq!(starts, [20_000, 10_000, 0]);
        assert_eq!(sliding.windows(30_000).len(), 3);

        let session = session(secs(5));
        assert_eq!(
            session.windows(7)[0],
            Window {
                start: 7,
                end: 5_007
            }
        );
    }

    #[test]
    fn a_window_is_late_once_the_watermark_passes_its_cleanup_time() {
        let spec = tumbling(secs(10)).allowed_lateness(secs(2));
        let window = Window {
            start: 0,
            end: 10_000,
        };
        assert_eq!(window.max_time(), 9_999);
        assert!(!spec.is_late(&window, 11_998));
        assert!(spec.is_late(&window, 11_999));
    }
}
