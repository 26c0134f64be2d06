//! The development runner as a user meets it: an example binary, run as
//! `cargo run --example` runs it.

use std::path::PathBuf;
use std::process::Command;

/// An example's binary, built by `cargo test` beside this test binary.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("this test's binary: {e}"));
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap_or_else(|| panic!("no profile dir above {}", exe.display()));
    let path = dir.join("examples").join(name);
    assert!(path.is_file(), "{} is not built", path.display());
    path
}

/// Another process on the local server's ingress port: the runner does not
/// start a server that cannot listen, nor register with that process, but
/// says which port is taken and what to do, and exits non-zero.
#[test]
fn the_runner_refuses_a_port_taken_by_another_process() {
    // If something else already has it, it is foreign all the same.
    let _foreign = std::net::TcpListener::bind("127.0.0.1:8080");
    let port = stream_support::free_port().unwrap_or_else(|e| panic!("a free port: {e}"));
    let out = Command::new(example("word_count"))
        .args(["--port", &port.to_string()])
        .env_remove("RESTATE_ADMIN_URL")
        .env_remove("RESTATE_INGRESS_URL")
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
