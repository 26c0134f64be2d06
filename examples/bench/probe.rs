//! What the bench reads off the machine: CPU time, memory, disk, ports.

use std::path::Path;
use std::time::Duration;

pub fn free_port() -> u16 {
    stream_support::free_port().expect("a free port")
}

/// User plus system CPU time of a process, from /proc (Linux).
pub fn cpu_time(pid: u32) -> Duration {
    cpu_time_in(&format!("/proc/{pid}/stat"))
}

/// User plus system CPU time of thread `tid` of this process.
pub fn thread_cpu_time(tid: u32) -> Duration {
    cpu_time_in(&format!("/proc/self/task/{tid}/stat"))
}

/// This thread's id, from /proc (Linux).
pub fn this_thread_id() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// The CPU time in a `/proc/…/stat` file.
fn cpu_time_in(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10) // 100 ticks per second
}

/// Resident memory of this process, in MiB.
pub fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Bytes under `dir`, recursively.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&entry.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// CPU use of the server and of this process (the endpoint) over an
/// interval, in % of one core.
pub struct CpuMeter {
    server_pid: u32,
    server: Duration,
    endpoint: Duration,
    since: std::time::Instant,
}

impl CpuMeter {
    pub fn start(server_pid: u32) -> Self {
        Self {
            server_pid,
            server: cpu_time(server_pid),
            endpoint: cpu_time(std::process::id()),
            since: std::time::Instant::now(),
        }
    }

    /// (server %, endpoint %) since the start or the last lap.
    pub fn lap(&mut self) -> (f64, f64) {
        let next = Self::start(self.server_pid);
        let seconds = (next.since - self.since).as_secs_f64().max(1e-9);
        let percent = |after: Duration, before: Duration| {
            after.saturating_sub(before).as_secs_f64() / seconds * 100.0
        };
        let lap = (
            percent(next.server, self.server),
            percent(next.endpoint, self.endpoint),
        );
        *self = next;
        lap
    }
}

/// The machine, for a table's header: CPU model, cores, memory, kernel, and
/// the Java that runs the peers.
pub fn machine() -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown CPU", |(_, model)| model.trim())
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = read("/proc/meminfo");
    let gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = read("/proc/sys/kernel/osrelease");
    let java = std::process::Command::new("java")
        .arg("-version")
        .output()
        .ok()
        .and_then(|out| {
            let text = String::from_utf8_lossy(&out.stderr).into_owned();
            text.lines().next().map(str::to_owned)
        })
        .unwrap_or_else(|| "no java".to_owned());
    format!(
        "{model}, {cores} cores, {gib:.0} GiB, Linux {}, {java}",
        kernel.trim()
    )
}
