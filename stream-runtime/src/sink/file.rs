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

impl<T: Serialize> Sink<T> for FileSink {
    fn write(&self, _partition: u32, committed: u64, records: &[T]) -> std::io::Result<u64> {
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
