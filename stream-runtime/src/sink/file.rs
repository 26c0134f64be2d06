//! `FileSink`: appends each record as a line of JSON to a file, exactly
//! once, by truncating the file to its committed length before each write.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use super::Sink;

/// Appends each record as one line of JSON to a file, exactly once.
///
/// The committed file length lives in Restate state. Before each append the
/// sink truncates the file back to that length, dropping whatever a write
/// that died before its result was journaled had left behind, then appends
/// the batch and syncs it to disk. A batch's lines become visible as soon as
/// the batch is durable; there is no checkpoint interval.
///
/// ```
/// use stream_runtime::{FileSink, Pipeline, RandomWords};
///
/// let pipeline = Pipeline::named("Words")
///     .source(RandomWords::new())
///     .sink(FileSink::new("/tmp/words.jsonl")); // one JSON string per line
/// # let _ = pipeline;
/// ```
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileSink {
    /// A sink writing to `path`, created if absent.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_owned(),
            lock: Mutex::new(()),
        }
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl<T: Serialize + Sync> Sink<T> for FileSink {
    async fn write(&self, _partition: u32, committed: u64, records: &[T]) -> std::io::Result<u64> {
        let mut lines = Vec::with_capacity(records.len() * 32);
        for record in records {
            serde_json::to_writer(&mut lines, record)?;
            lines.push(b'\n');
        }
        // Two attempts of one write in this process must not interleave.
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.path)?;
        let length = file.metadata()?.len();
        let start = if length >= committed {
            file.set_len(committed)?;
            committed
        } else {
            // The file lost committed bytes (deleted or truncated by hand):
            // nothing to roll back, so carry on from where it ends.
            tracing::warn!(
                path = %self.path.display(),
                length,
                committed,
                "output file is shorter than its committed length; appending at its end"
            );
            length
        };
        file.seek(SeekFrom::Start(start))?;
        file.write_all(&lines)?;
        file.sync_data()?;
        Ok(start + lines.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("file-sink-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn a_retried_write_replaces_what_the_failed_attempt_left() {
        let path = scratch("retry");
        let sink = FileSink::new(&path);
        let first =
            crate::testing::block_on(Sink::<u32>::write(&sink, 0, 0, &[1, 2])).expect("write");
        // The process died after this write but before its result was
        // journaled: the retry runs with the same committed offset.
        let torn =
            crate::testing::block_on(Sink::<u32>::write(&sink, 0, first, &[3, 4])).expect("write");
        let retried =
            crate::testing::block_on(Sink::<u32>::write(&sink, 0, first, &[3, 4])).expect("write");
        assert_eq!(torn, retried);
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "1\n2\n3\n4\n"
        );
        // A half-written line past the committed offset is dropped too.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"5\n6"))
            .expect("append");
        crate::testing::block_on(Sink::<u32>::write(&sink, 0, retried, &[5])).expect("write");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "1\n2\n3\n4\n5\n"
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_file_shorter_than_committed_is_appended_to() {
        let path = scratch("short");
        let sink = FileSink::new(&path);
        let end = crate::testing::block_on(Sink::<u32>::write(&sink, 0, 100, &[7])).expect("write");
        assert_eq!(end, 2);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "7\n");
        let _ = std::fs::remove_file(&path);
    }
}
