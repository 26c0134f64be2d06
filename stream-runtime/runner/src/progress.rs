//! The runner's progress lines: each pipeline's counts, and its rate over
//! the time that really passed between two answers of the server.

use std::time::Instant;

use stream_runtime::Status;

/// What the last answer said of one pipeline, and when it came.
pub(super) struct Progress {
    at: Instant,
    out: u64,
}

impl Progress {
    /// Counting from `status`, the pipeline's state when the run began (a
    /// resumed pipeline has written before; that is not this run's rate).
    pub fn from(status: &Status) -> Self {
        Self {
            at: Instant::now(),
            out: status.records_out,
        }
    }

    /// The line for a new `status`, with the rate since the last answer;
    /// `None` while the pipeline has seen nothing at all.
    pub fn line(&mut self, pipeline: &str, status: &Status) -> Option<String> {
        let now = Instant::now();
        let seconds = now.duration_since(self.at).as_secs_f64().max(1e-3);
        let rate = rate(status.records_out.saturating_sub(self.out), seconds);
        self.at = now;
        self.out = status.records_out;
        // Records in but none out yet is progress too (windows open).
        if status.records_out == 0 && status.records_in == 0 {
            return None;
        }
        Some(format!(
            "{:<24} out {:>10} ({:>8.0}/s)  in {:>10}  tokens running {} (of {} injected in all runs){}{}{}",
            pipeline,
            status.records_out,
            rate,
            status.records_in,
            status.tokens_in_flight,
            status.tokens_injected,
            time_progress(status),
            if status.dead_letters > 0 {
                format!("  dead letters {}", status.dead_letters)
            } else {
                String::new()
            },
            if status.finished { "  finished" } else { "" },
        ))
    }
}

/// Records per second over `seconds`.
fn rate(records: u64, seconds: f64) -> f64 {
    records as f64 / seconds
}

/// The watermark, windows still to fire and late records, for a pipeline
/// with event time.
fn time_progress(status: &Status) -> String {
    let Some(watermark) = status.watermark else {
        return String::new();
    };
    let mut line = match watermark {
        i64::MAX => "  watermark at the end".to_owned(),
        w => format!("  watermark {:.1}s", w as f64 / 1000.0),
    };
    if status.pending_timers > 0 {
        line += &format!("  windows open {}", status.pending_timers);
    }
    if status.late_records > 0 {
        line += &format!("  late {}", status.late_records);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(records_out: u64) -> Status {
        Status {
            records_out,
            records_in: records_out,
            ..Status::default()
        }
    }

    #[test]
    fn a_resumed_pipeline_counts_its_rate_from_where_this_run_began() {
        let mut progress = Progress::from(&status(489_000));
        let line = progress.line("P", &status(489_100)).unwrap_or_default();
        assert!(line.contains("out     489100"), "{line}");
        // 100 records in well under a second, not 489,100.
        let shown: f64 = line
            .split(['(', '/'])
            .nth(1)
            .and_then(|r| r.trim().parse().ok())
            .unwrap_or(f64::MAX);
        assert!((100.0..489_000.0).contains(&shown), "{line}");
    }

    #[test]
    fn the_rate_is_over_the_time_that_passed() {
        assert_eq!(rate(50_000, 20.0), 2_500.0);
        assert_eq!(rate(0, 20.0), 0.0);
    }
}
