//! When the watermark passed each time: a `tracing` subscriber that keeps
//! only the runtime's watermark events (`stream_runtime::watermark`), each
//! with the instant it was emitted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use stream_runtime::time::WATERMARK_TARGET;

/// Every watermark the clock reached, with when.
#[derive(Default)]
pub struct WatermarkLog {
    events: Mutex<Vec<(Instant, i64)>>,
}

impl WatermarkLog {
    /// Installs a log as the process's `tracing` subscriber.
    pub fn install() -> Result<Arc<Self>, String> {
        let log = Arc::new(Self::default());
        let subscriber = LogSubscriber {
            log: Arc::clone(&log),
            next_span: AtomicU64::new(1),
        };
        tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())?;
        Ok(log)
    }

    /// Forgets what was seen (a new pipeline starts).
    pub fn clear(&self) {
        if let Ok(mut events) = self.events.lock() {
            events.clear();
        }
    }

    /// When the watermark first reached `at` or beyond, if it has.
    pub fn reached(&self, at: i64) -> Option<Instant> {
        let events = self.events.lock().ok()?;
        events
            .iter()
            .filter(|(_, watermark)| *watermark >= at)
            .map(|(when, _)| *when)
            .min()
    }
}

struct LogSubscriber {
    log: Arc<WatermarkLog>,
    next_span: AtomicU64,
}

/// Picks the `watermark` field out of an event.
struct WatermarkField(Option<i64>);

impl Visit for WatermarkField {
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "watermark" {
            self.0 = Some(value);
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

impl Subscriber for LogSubscriber {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == WATERMARK_TARGET
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let now = Instant::now();
        let mut field = WatermarkField(None);
        event.record(&mut field);
        if let (Some(watermark), Ok(mut events)) = (field.0, self.log.events.lock()) {
            events.push((now, watermark));
        }
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}
