//! Saying what holds a pipeline up: invocations the server retries or has
//! paused, and a server that does not answer at all.

use std::path::Path;
use std::time::Duration;

use stream_runtime::restate::AdminClient;
use stream_runtime::ServiceNames;

/// Says what of the pipeline the server is retrying or has paused, and
/// resumes the paused: this process serves the pipeline, so the endpoint
/// they were waiting for is back. (An outage longer than the server's
/// retry policy pauses every token; see [`Stalled`](stream_runtime::restate::Stalled).)
pub(super) async fn resume_stalled(admin: &AdminClient, pipeline: &ServiceNames) {
    let stalled = admin.resume_paused(pipeline).await;
    if let Ok(stalled) = &stalled {
        stream_runtime::metrics::record_stalled(&pipeline.pipeline, stalled);
    }
    match stalled {
        Ok(stalled) if !stalled.is_empty() => {
            let resumed = if stalled.paused.is_empty() {
                ""
            } else {
                "; resumed the paused ones"
            };
            println!("{}: {}{resumed}", pipeline.pipeline, stalled.describe());
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "cannot look for paused invocations"),
    }
}

/// One line on a server that has not answered for `silent`: whether its
/// admin API still answers, and the last error or warning in its log.
pub(super) async fn describe_silence(
    admin: &AdminClient,
    log: Option<&Path>,
    silent: Duration,
    error: &str,
) -> String {
    let mut line = format!(
        "the server has not answered for {}s ({error});",
        silent.as_secs()
    );
    let healthy = tokio::time::timeout(Duration::from_secs(2), admin.is_healthy()).await;
    line += if healthy.unwrap_or(false) {
        " its admin API answers, so it is the partitions that do not move"
    } else {
        " its admin API does not answer either"
    };
    if let Some(last) = log.and_then(last_problem) {
        line += &format!("; its log's last problem: {last}");
    }
    if let Some(log) = log {
        line += &format!(" (log: {})", log.display());
    }
    line + ". Waiting for it; it goes on by itself once the server does."
}

/// The last line of a server log that reports an error or a warning, such
/// as a full disk.
fn last_problem(log: &Path) -> Option<String> {
    crate::process::log_tail(log, 1_000)
        .lines()
        .rev()
        // The update check fails without internet; it stalls nothing.
        .filter(|line| !line.contains("octocrab"))
        .find(|line| line.contains("ERROR") || line.contains("WARN"))
        .map(|line| line.chars().take(400).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_problem_is_the_last_error_or_warning_in_the_log() {
        let dir = std::env::temp_dir().join(format!("stall-log-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let log = dir.join("server.log");
        let text = "INFO started\nWARN slow disk\nERROR No space left on device (os error 28)\nINFO tick\n";
        std::fs::write(&log, text).unwrap_or_else(|e| panic!("{e}"));
        let last = last_problem(&log);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            last.as_deref(),
            Some("ERROR No space left on device (os error 28)")
        );
    }
}
