//! Launching the processes a run or a test needs (a server, an endpoint)
//! so that none outlives the program, and reading their logs.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The last `lines` lines of a log file (or why it cannot be read),
/// reading only its last 64 KiB: a long-running server's log is large.
pub fn log_tail(path: &Path, lines: usize) -> String {
    match read_end(path, 64 * 1024) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(error) => format!("(cannot read it: {error})"),
    }
}

/// The last `bytes` bytes of a file, as text.
fn read_end(path: &Path, bytes: u64) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(bytes)))?;
    let mut end = Vec::new();
    file.read_to_end(&mut end)?;
    Ok(String::from_utf8_lossy(&end).into_owned())
}

/// Makes a child started with `command` die with the thread that starts it
/// (Linux; elsewhere a no-op), so a test binary or example that exits
/// abruptly leaves no server or endpoint behind.
#[cfg(target_os = "linux")]
pub fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Makes a child die with its parent (a no-op off Linux).
#[cfg(not(target_os = "linux"))]
pub fn die_with_parent(_command: &mut Command) {}

/// Starts `command` with no input, its output appended to `log`, dying with
/// its parent (see [`die_with_parent`]).
pub fn spawn_logged(command: &mut Command, log: &Path) -> std::io::Result<Child> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let err = out.try_clone()?;
    command.stdin(Stdio::null()).stdout(out).stderr(err);
    die_with_parent(command);
    command.spawn()
}
