//! The development runner as a user meets it: an example binary, run as
//! `cargo run --example` runs it, with its data under a scratch target dir.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The runner's local server always listens on 8080, 9070 and 5122: one
/// test at a time.
static DEFAULT_PORTS: Mutex<()> = Mutex::new(());

/// An example's binary, built beside this test binary by `cargo test
/// --workspace --all-features` (`cargo test --all-features --test
/// integration` alone does not rebuild the examples: run `cargo build
/// --all-features --examples` first).
pub(crate) fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("this test's binary: {e}"));
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap_or_else(|| panic!("no profile dir above {}", exe.display()));
    let path = dir.join("examples").join(name);
    assert!(path.is_file(), "{} is not built", path.display());
    path
}

/// A target dir of a test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        Self(std::env::temp_dir().join(format!("{test}-{}", std::process::id())))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An example run the way a user runs it, with no server configured, its
/// data dir under `target` rather than the user's `target/`.
fn run_example(name: &str, target: &Scratch, args: &[&str]) -> Command {
    let port = stream_support::free_port().unwrap_or_else(|e| panic!("a free port: {e}"));
    let mut command = Command::new(example(name));
    command
        .args(["--port", &port.to_string()])
        .args(args)
        .env("CARGO_TARGET_DIR", &target.0)
        .env_remove("RESTATE_ADMIN_URL")
        .env_remove("RESTATE_INGRESS_URL");
    command
}

/// Another process on the local server's ingress port: the runner does not
/// start a server that cannot listen, nor register with that process, but
/// says which port is taken and what to do, and exits non-zero.
#[test]
fn the_runner_refuses_a_port_taken_by_another_process() {
    let _ports = DEFAULT_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    // If something else already has it, it is foreign all the same.
    let _foreign = std::net::TcpListener::bind("127.0.0.1:8080");
    let target = Scratch::new("runner-port");
    let out = run_example("word_count", &target, &[])
        .output()
        .unwrap_or_else(|e| panic!("running word_count: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "it exited 0:\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("port 8080 (the local restate-server's ingress) is taken")
            && stderr.contains("--serve-only")
            && stderr.contains("--admin-url"),
        "{stderr}"
    );
    assert!(!stdout.contains("final counts"), "{stdout}");
}

/// The pid of `parent`'s child process named `name`.
fn child_named(parent: u32, name: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid ...`; comm may hold spaces, so from the last ')'.
            let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent && comm == name).then_some(pid)
        })
}

fn signal(pid: u32, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: a signal to a process this test's child started.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// The local server paused (SIGSTOP) for 12 s mid-run: the runner says that
/// the server is silent, keeps serving, prints no rate while nothing moves,
/// and goes on by itself once the server is back.
#[test]
fn a_paused_server_is_said_plainly_and_the_run_goes_on_when_it_is_back() {
    let _ports = DEFAULT_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let target = Scratch::new("runner-paused");
    let mut child = run_example(
        "continuous_word_count",
        &target,
        &["--fresh", "--duration", "25"],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap_or_else(|e| panic!("running continuous_word_count: {e}"));
    let lines = Arc::new(Mutex::new(Vec::<(Instant, String)>::new()));
    let reader = child.stdout.take().map(|out| {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((Instant::now(), line));
            }
        })
    });
    let progress = |lines: &[(Instant, String)]| {
        lines
            .iter()
            .filter(|(_, l)| l.starts_with("ContinuousWordCount "))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while progress(&lines.lock().unwrap_or_else(|e| e.into_inner())) < 2 {
        assert!(Instant::now() < deadline, "no progress: {:?}", lines.lock());
        std::thread::sleep(Duration::from_millis(200));
    }
    let server = child_named(child.id(), "restate-server")
        .unwrap_or_else(|| panic!("no restate-server under {}", child.id()));
    signal(server, libc::SIGSTOP);
    let paused = Instant::now();
    std::thread::sleep(Duration::from_secs(12));
    signal(server, libc::SIGCONT);
    let resumed = Instant::now();
    let status = child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
    if let Some(reader) = reader {
        let _ = reader.join();
    }
    let lines = lines.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    assert!(status.success(), "{status}: {text:#?}");
    assert!(
        text.iter()
            .any(|l| l.contains("the server has not answered for")
                && l.contains("goes on by itself")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|l| l.starts_with("the server answers again")),
        "{text:#?}"
    );
    // While it was paused (after the last status in flight), no rate.
    let during = lines
        .iter()
        .filter(|(at, l)| {
            *at > paused + Duration::from_secs(6)
                && *at < resumed
                && l.starts_with("ContinuousWordCount ")
        })
        .count();
    assert_eq!(during, 0, "{text:#?}");
    let after = lines
        .iter()
        .filter(|(at, l)| *at > resumed && l.starts_with("ContinuousWordCount "))
        .count();
    assert!(after >= 2, "no progress after the pause: {text:#?}");
}

/// `--replay all`, scripted: a run of the `replay` example leaves the
/// number 50 as a dead letter while its bug file exists; the next run,
/// after the fix, replays it on start, says so, and its sum is written
/// once.
#[test]
fn the_runner_replays_dead_letters_on_start_with_replay_all() {
    let _ports = DEFAULT_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let target = Scratch::new("runner-replay");
    std::fs::create_dir_all(&target.0).unwrap_or_else(|e| panic!("{e}"));
    let bug = target.0.join("bug");
    let out = target.0.join("sums.jsonl");
    std::fs::write(&bug, "").unwrap_or_else(|e| panic!("{e}"));
    let files = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--bug".to_owned(), bug.display().to_string()];
        args.extend([
            "--out".to_owned(),
            out.display().to_string(),
            "--no-page".to_owned(),
        ]);
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_example("replay", &target, &args)
            .output()
            .unwrap_or_else(|e| panic!("running replay: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let fifty = || {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        text.lines().filter(|l| l.contains("\"last\":50,")).count()
    };
    let first = run(files(&["--fresh", "--tokens", "1", "--duration", "8"]));
    assert_eq!(fifty(), 0, "50 failed, nothing of it written:\n{first}");
    std::fs::remove_file(&bug).unwrap_or_else(|e| panic!("{e}"));
    let second = run(files(&["--replay", "all", "--duration", "5"]));
    assert!(
        second.contains("RunningSums: replayed 1 dead letters, 0 failed again"),
        "{second}"
    );
    assert_eq!(fifty(), 1, "the replayed sum, written once:\n{second}");
}
