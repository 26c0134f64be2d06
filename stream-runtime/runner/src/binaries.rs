//! Finding the restate-server and the `restate` CLI: an environment
//! variable, the npm packages (installing them when the project pins them),
//! or `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The restate-server version this crate is built and tested against.
pub const RESTATE_VERSION: &str = "1.7.12";

/// Why the local server could not be found, installed or started. Its
/// `Debug` is its message, which says what to do.
#[derive(thiserror::Error)]
pub enum ServerBinaryError {
    /// Nothing found, and nothing to install it from.
    #[error(
        "restate-server not found. Install it with `npm install @restatedev/restate-server@{RESTATE_VERSION}` \
         (or `npm ci` in this repository), put it on PATH, or set RESTATE_SERVER_BIN. \
         To use a server that is already running instead, give the runner --admin-url and \
         --ingress-url (RESTATE_ADMIN_URL, RESTATE_INGRESS_URL)"
    )]
    NotFound,
    /// `npm ci` failed.
    #[error("installing restate-server with npm in {dir} failed: {reason}")]
    Install {
        /// Where npm ran.
        dir: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// A port the server would listen on is taken by a process this one
    /// did not start (such as a server left running from the manual flow).
    #[error(
        "port {port} (the local restate-server's {what}) is taken by another process, so a \
         server started here could not listen on it, and the runner will not register with a \
         server it did not start. Stop that process, or use its server: give --admin-url and \
         --ingress-url (RESTATE_ADMIN_URL, RESTATE_INGRESS_URL), or run with --serve-only and \
         register this endpoint yourself"
    )]
    PortTaken {
        /// The port.
        port: u16,
        /// What the server would use it for.
        what: &'static str,
    },
    /// The server process could not start or become healthy.
    #[error(
        "restate-server did not start: {0}\n(to use a server that is already running instead, \
         give the runner --admin-url and --ingress-url, or set RESTATE_ADMIN_URL and RESTATE_INGRESS_URL)"
    )]
    Start(String),
}

impl std::fmt::Debug for ServerBinaryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Finds the restate-server binary: `RESTATE_SERVER_BIN`, then the npm
/// package in a `node_modules` above the current directory or the running
/// binary,
/// then `PATH`. If none is found but a `package.json` above pins
/// `@restatedev/restate-server`, runs `npm ci` there first.
pub fn find_server_binary() -> Result<PathBuf, ServerBinaryError> {
    find_binary("RESTATE_SERVER_BIN", "restate-server", "restate-server")
}

/// Finds the `restate` CLI the same way (`RESTATE_CLI_BIN`, npm, `PATH`).
pub fn find_cli_binary() -> Result<PathBuf, ServerBinaryError> {
    find_binary("RESTATE_CLI_BIN", "restate", "restate")
}

fn find_binary(env_var: &str, package: &str, binary: &str) -> Result<PathBuf, ServerBinaryError> {
    if let Some(path) = std::env::var_os(env_var) {
        return Ok(PathBuf::from(path));
    }
    let roots = search_roots();
    if let Some(found) = roots
        .iter()
        .find_map(|root| in_node_modules(root, package, binary))
    {
        return Ok(found);
    }
    if let Some(found) = on_path(binary) {
        return Ok(found);
    }
    if let Some(project) = roots.iter().find(|root| pins_restate(root)) {
        npm_ci(project)?;
        if let Some(found) = in_node_modules(project, package, binary) {
            return Ok(found);
        }
    }
    Err(ServerBinaryError::NotFound)
}

/// The current directory and the running binary's directory, with all
/// their parents: a binary built under `target/` finds the project's
/// `node_modules` from anywhere.
fn search_roots() -> Vec<PathBuf> {
    let mut starts = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned))
    {
        starts.push(dir);
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    for start in starts {
        for dir in start.ancestors() {
            if !roots.iter().any(|r| r == dir) {
                roots.push(dir.to_owned());
            }
        }
    }
    roots
}

fn in_node_modules(root: &Path, package: &str, binary: &str) -> Option<PathBuf> {
    let platform = match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "linux-x64",
        ("linux", "aarch64") => "linux-arm64",
        ("macos", "x86_64") => "darwin-x64",
        ("macos", "aarch64") => "darwin-arm64",
        _ => return None,
    };
    let path = root
        .join("node_modules/@restatedev")
        .join(format!("{package}-{platform}"))
        .join("bin")
        .join(binary);
    path.is_file().then_some(path)
}

fn on_path(binary: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(binary))
        .find(|path| path.is_file())
}

fn pins_restate(root: &Path) -> bool {
    std::fs::read_to_string(root.join("package.json"))
        .map(|text| text.contains("@restatedev/restate-server"))
        .unwrap_or(false)
}

fn npm_ci(dir: &Path) -> Result<(), ServerBinaryError> {
    let install = if dir.join("package-lock.json").is_file() {
        "ci"
    } else {
        "install"
    };
    eprintln!(
        "restate-server not found: running `npm {install}` in {}",
        dir.display()
    );
    let status = Command::new("npm")
        .args([install, "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| ServerBinaryError::Install {
            dir: dir.to_owned(),
            reason: format!("cannot run npm ({e}); install Node.js"),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(ServerBinaryError::Install {
            dir: dir.to_owned(),
            reason: format!("npm exited with {status}"),
        })
    }
}
