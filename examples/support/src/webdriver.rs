//! A small W3C WebDriver client that drives headless Chromium through
//! Debian's `chromedriver`, for tests that look at a page: open it, find
//! elements, click, run scripts, take screenshots, and wait for text to
//! change or elements to go away.
//!
//! ```no_run
//! # async fn demo() -> Result<(), stream_support::webdriver::WebDriverError> {
//! use std::time::Duration;
//! use stream_support::webdriver::Browser;
//!
//! let browser = Browser::start().await?;
//! browser.goto("http://127.0.0.1:8080/").await?;
//! let before = browser.find("#count").await?.text().await?;
//! let after = browser
//!     .wait_text("#count", Duration::from_secs(10), |text| text != before)
//!     .await?;
//! browser.find("#dismiss").await?.click().await?;
//! browser.wait_gone("#banner", Duration::from_secs(5)).await?;
//! browser.quit().await?;
//! # let _ = after;
//! # Ok(())
//! # }
//! ```

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// What to install when chromedriver or Chromium is missing.
const INSTALL: &str = "apt-get install chromium chromium-driver";

/// The key under which WebDriver names an element in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long chromedriver has to answer `/status` as ready.
const DRIVER_START: Duration = Duration::from_secs(30);

/// The longest one command may take before the client gives up on it: a
/// guard against hangs (chromedriver's own page-load timeout is 300 s).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// How long dropping a [`Browser`] waits for its session to be deleted.
const DROP_QUIT: Duration = Duration::from_secs(5);

/// How often the `wait_*` helpers look again.
const POLL: Duration = Duration::from_millis(100);

/// Why a WebDriver call failed.
#[derive(Debug, thiserror::Error)]
pub enum WebDriverError {
    /// chromedriver or Chromium is not where it was looked for.
    #[error("{what} not found ({looked}): install Debian's packages ({INSTALL})")]
    NotInstalled {
        /// `chromedriver` or `chromium`.
        what: &'static str,
        /// Where it was looked for.
        looked: String,
    },
    /// chromedriver exited or did not get ready.
    #[error("chromedriver did not start: {0}")]
    Start(String),
    /// WebDriver answered a command with an error (`value.error` and
    /// `value.message` of its answer).
    #[error("{command}: {error}: {message}")]
    Command {
        /// The command, as `METHOD path`.
        command: String,
        /// WebDriver's error code, e.g. `no such element`.
        error: String,
        /// WebDriver's message.
        message: String,
    },
    /// An answer that is not what WebDriver answers.
    #[error("{command}: unexpected answer: {detail}")]
    Protocol {
        /// The command, as `METHOD path`.
        command: String,
        /// What was wrong with the answer.
        detail: String,
    },
    /// A `wait_*` condition did not hold in time.
    #[error("timed out after {waited:?} waiting for {what}{}", last.as_ref().map(|l| format!("; last seen: {l}")).unwrap_or_default())]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        waited: Duration,
        /// The last state seen (text, or a passing error), if any.
        last: Option<String>,
    },
    /// Talking to chromedriver, or writing a file, failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl WebDriverError {
    /// WebDriver's error code (`value.error`), if WebDriver answered with
    /// an error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Command { error, .. } => Some(error),
            _ => None,
        }
    }

    /// An error a wait looks past: the element is not there (yet), or went
    /// away between being found and being read.
    fn is_passing(&self) -> bool {
        matches!(
            self.code(),
            Some("no such element" | "stale element reference")
        )
    }
}

/// The WebDriver session: chromedriver's port and the session id, shared
/// by the browser and its elements.
#[derive(Debug)]
struct Session {
    port: u16,
    id: String,
}

impl Session {
    /// A command on this session (`path` is relative to `/session/{id}`).
    async fn command(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let path = format!("/session/{}{path}", self.id);
        request(self.port, method, &path, body).await
    }
}

/// One command to chromedriver on `port`: its answer's `value`, or the
/// WebDriver error it carries.
async fn request(
    port: u16,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let command = format!("{method} {path}");
    let exchange = exchange(port, method, path, body);
    let (status, answer) = tokio::time::timeout(COMMAND_TIMEOUT, exchange)
        .await
        .map_err(|_| WebDriverError::Timeout {
            what: format!("chromedriver to answer {command}"),
            waited: COMMAND_TIMEOUT,
            last: None,
        })??;
    let parsed: Value = serde_json::from_slice(&answer).map_err(|e| WebDriverError::Protocol {
        command: command.clone(),
        detail: format!(
            "HTTP {status}, not JSON ({e}): {}",
            clip(&String::from_utf8_lossy(&answer))
        ),
    })?;
    let Some(value) = parsed.get("value") else {
        return Err(WebDriverError::Protocol {
            command,
            detail: format!("HTTP {status}, no `value`: {}", clip(&parsed.to_string())),
        });
    };
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        return Err(WebDriverError::Command {
            command,
            error: error.to_owned(),
            message: value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        });
    }
    if !(200..300).contains(&status) {
        return Err(WebDriverError::Protocol {
            command,
            detail: format!("HTTP {status}: {}", clip(&parsed.to_string())),
        });
    }
    Ok(value.clone())
}

/// One HTTP/1.1 exchange on a fresh loopback connection: the status and
/// the whole body.
async fn exchange(
    port: u16,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Bytes), WebDriverError> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    let driving = tokio::spawn(connection);
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, format!("127.0.0.1:{port}"))
        .header(CONTENT_LENGTH, body.len());
    if !body.is_empty() {
        builder = builder.header(CONTENT_TYPE, "application/json; charset=utf-8");
    }
    let request = builder
        .body(Full::new(Bytes::from(body)))
        .map_err(std::io::Error::other)?;
    let answer = sender
        .send_request(request)
        .await
        .map_err(std::io::Error::other)?;
    let status = answer.status().as_u16();
    let body = answer
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    driving.abort();
    Ok((status, body))
}

/// At most 500 characters of `text`, for error messages.
fn clip(text: &str) -> String {
    match text.char_indices().nth(500) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// `text` percent-encoded for use as one path segment.
fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// chromedriver: `$CHROMEDRIVER`, else `/usr/bin/chromedriver`, else on
/// `PATH`.
fn chromedriver_binary() -> Result<PathBuf, WebDriverError> {
    if let Some(path) = std::env::var_os("CHROMEDRIVER") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(WebDriverError::NotInstalled {
                what: "chromedriver",
                looked: format!("CHROMEDRIVER={}", path.display()),
            })
        };
    }
    let system = PathBuf::from("/usr/bin/chromedriver");
    if system.is_file() {
        return Ok(system);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("chromedriver"))
        .find(|path| path.is_file())
        .ok_or_else(|| WebDriverError::NotInstalled {
            what: "chromedriver",
            looked: "CHROMEDRIVER unset, not /usr/bin/chromedriver, not on PATH".to_owned(),
        })
}

/// Chromium: `$CHROMIUM`, else `/usr/bin/chromium`.
fn chromium_binary() -> Result<PathBuf, WebDriverError> {
    let (path, looked) = match std::env::var_os("CHROMIUM") {
        Some(path) => {
            let path = PathBuf::from(path);
            let looked = format!("CHROMIUM={}", path.display());
            (path, looked)
        }
        None => (
            PathBuf::from("/usr/bin/chromium"),
            "CHROMIUM unset, not /usr/bin/chromium".to_owned(),
        ),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(WebDriverError::NotInstalled {
            what: "chromium",
            looked,
        })
    }
}

/// The chromedriver process, in a process group of its own with the
/// Chromium it starts, and its scratch dir (its log, and `TMPDIR` for it
/// and Chromium: the profile Chromium runs with). Dropping it kills the
/// group and removes the dir, so nothing is left behind even when the
/// session was not deleted.
struct Driver {
    child: Child,
    dir: PathBuf,
}

impl Driver {
    fn log(&self) -> PathBuf {
        self.dir.join("chromedriver.log")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        match i32::try_from(self.child.id()) {
            // SAFETY: kill has no memory preconditions. The group is the
            // one the child leads (`process_group(0)`); its id is not
            // reused while the child is unreaped or the group has members.
            Ok(group) => unsafe {
                libc::kill(-group, libc::SIGKILL);
            },
            Err(_) => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A headless Chromium with one WebDriver session, driven through its own
/// chromedriver; the session is deleted and chromedriver killed when this
/// is dropped (or on [`Browser::quit`]).
pub struct Browser {
    session: Arc<Session>,
    /// Whether the session is already deleted (or its deletion tried).
    quit: bool,
    // Dropped after `Browser::drop` has deleted the session.
    _driver: Driver,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("port", &self.session.port)
            .field("session", &self.session.id)
            .finish()
    }
}

impl Browser {
    /// Starts chromedriver on a free port and opens a session in a new
    /// headless Chromium (1400×1000). Fails with
    /// [`WebDriverError::NotInstalled`] when either is missing.
    pub async fn start() -> Result<Self, WebDriverError> {
        let chromedriver = chromedriver_binary()?;
        let chromium = chromium_binary()?;
        let port = crate::free_port()?;
        let dir = std::env::temp_dir().join(format!("webdriver-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .env("TMPDIR", &dir)
            .process_group(0);
        let log = dir.join("chromedriver.log");
        let child = match stream_runner::process::spawn_logged(&mut command, &log) {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                let why = format!("cannot run {}: {e}", chromedriver.display());
                return Err(WebDriverError::Start(why));
            }
        };
        let mut driver = Driver { child, dir };
        wait_ready(&mut driver, port).await?;
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium.to_string_lossy(),
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--window-size=1400,1000",
                        ],
                    },
                },
            },
        });
        let created = request(port, Method::POST, "/session", Some(capabilities)).await?;
        let id = created
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| WebDriverError::Protocol {
                command: "POST /session".to_owned(),
                detail: format!("no sessionId: {}", clip(&created.to_string())),
            })?
            .to_owned();
        Ok(Self {
            session: Arc::new(Session { port, id }),
            quit: false,
            _driver: driver,
        })
    }

    /// Deletes the session (closing Chromium) and stops chromedriver.
    pub async fn quit(mut self) -> Result<(), WebDriverError> {
        self.quit = true;
        self.session.command(Method::DELETE, "", None).await?;
        Ok(())
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) -> Result<(), WebDriverError> {
        self.session
            .command(Method::POST, "/url", Some(json!({ "url": url })))
            .await?;
        Ok(())
    }

    /// The URL of the page now open.
    pub async fn current_url(&self) -> Result<String, WebDriverError> {
        let url = self.session.command(Method::GET, "/url", None).await?;
        string(url, "GET /url")
    }

    /// Every element matching the CSS selector `css`, in document order
    /// (none is not an error).
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, WebDriverError> {
        let found = self
            .session
            .command(Method::POST, "/elements", Some(by_css(css)))
            .await?;
        let Value::Array(found) = found else {
            return Err(WebDriverError::Protocol {
                command: "POST /elements".to_owned(),
                detail: format!("not a list: {}", clip(&found.to_string())),
            });
        };
        found
            .iter()
            .map(|reference| Element::from_reference(&self.session, reference, "POST /elements"))
            .collect()
    }

    /// The first element matching the CSS selector `css`; WebDriver's
    /// `no such element` error when there is none.
    pub async fn find(&self, css: &str) -> Result<Element, WebDriverError> {
        let found = self
            .session
            .command(Method::POST, "/element", Some(by_css(css)))
            .await?;
        Element::from_reference(&self.session, &found, "POST /element")
    }

    /// Runs `script` as the body of a function called with `args` (in it,
    /// `arguments[0]`, …; pass an element as [`Element::to_json`]) and
    /// returns what it returns, as JSON (elements as WebDriver references).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, WebDriverError> {
        self.session
            .command(
                Method::POST,
                "/execute/sync",
                Some(json!({ "script": script, "args": args })),
            )
            .await
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub async fn screenshot_png(&self, path: &Path) -> Result<(), WebDriverError> {
        let shot = self
            .session
            .command(Method::GET, "/screenshot", None)
            .await?;
        let encoded = string(shot, "GET /screenshot")?;
        let png = decode_base64(&encoded).map_err(|detail| WebDriverError::Protocol {
            command: "GET /screenshot".to_owned(),
            detail,
        })?;
        tokio::fs::write(path, png).await.map_err(|e| {
            WebDriverError::Io(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", path.display()),
            ))
        })
    }

    /// Polls `check` (every 100 ms, at least once) until it returns
    /// `Some`, and returns that. `what` names the condition in the timeout
    /// error. An error from `check` ends the wait, except `no such element`
    /// and `stale element reference`, which count as "not yet" (so `check`
    /// may look for elements that come and go).
    ///
    /// ```no_run
    /// # async fn demo(browser: &stream_support::webdriver::Browser)
    /// #     -> Result<(), stream_support::webdriver::WebDriverError> {
    /// use std::time::Duration;
    /// let rows = browser
    ///     .wait_for(Duration::from_secs(10), "three rows", async |b| {
    ///         let rows = b.find_all("tr").await?;
    ///         Ok((rows.len() >= 3).then_some(rows))
    ///     })
    ///     .await?;
    /// # let _ = rows;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl AsyncFnMut(&Browser) -> Result<Option<T>, WebDriverError>,
    ) -> Result<T, WebDriverError> {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            match check(self).await {
                Ok(Some(done)) => return Ok(done),
                Ok(None) => {}
                Err(error) if error.is_passing() => last = Some(error.to_string()),
                Err(error) => return Err(error),
            }
            if Instant::now() >= deadline {
                return Err(WebDriverError::Timeout {
                    what: what.to_owned(),
                    waited: timeout,
                    last,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until an element matches `css`, and returns the first.
    pub async fn wait_find(&self, css: &str, timeout: Duration) -> Result<Element, WebDriverError> {
        let what = format!("an element matching `{css}`");
        self.wait_for(timeout, &what, async |b| b.find(css).await.map(Some))
            .await
    }

    /// Waits until the text of the first element matching `css` satisfies
    /// `predicate`, and returns that text: e.g. `|t| t != before` for "it
    /// changed", or `|t| t.contains("done")`. A missing element counts as
    /// "not yet"; the timeout error says the last text seen.
    pub async fn wait_text(
        &self,
        css: &str,
        timeout: Duration,
        mut predicate: impl FnMut(&str) -> bool,
    ) -> Result<String, WebDriverError> {
        let what = format!("the text of `{css}` to match");
        let mut seen = None;
        let waited = self
            .wait_for(timeout, &what, async |b| {
                let text = b.find(css).await?.text().await?;
                if predicate(&text) {
                    Ok(Some(text))
                } else {
                    seen = Some(text);
                    Ok(None)
                }
            })
            .await;
        match waited {
            Err(WebDriverError::Timeout { what, waited, last }) => Err(WebDriverError::Timeout {
                what,
                waited,
                last: seen.map(|text| format!("{text:?}")).or(last),
            }),
            other => other,
        }
    }

    /// Waits until no element matching `css` is displayed: none matches,
    /// or every match is hidden.
    pub async fn wait_gone(&self, css: &str, timeout: Duration) -> Result<(), WebDriverError> {
        let what = format!("`{css}` to disappear");
        let mut shown = 0;
        let waited = self
            .wait_for(timeout, &what, async |b| {
                shown = 0;
                for element in b.find_all(css).await? {
                    match element.is_displayed().await {
                        Ok(true) => shown += 1,
                        Ok(false) => {}
                        // Removed from the page since it was found: gone.
                        Err(error) if error.is_passing() => {}
                        Err(error) => return Err(error),
                    }
                }
                Ok((shown == 0).then_some(()))
            })
            .await;
        match waited {
            Err(WebDriverError::Timeout { what, waited, .. }) => Err(WebDriverError::Timeout {
                what,
                waited,
                last: Some(format!("{shown} still displayed")),
            }),
            other => other,
        }
    }
}

impl Drop for Browser {
    /// Deletes the session, best effort and for at most a few seconds (on
    /// a thread of its own, so it works inside or outside a runtime), then
    /// lets the chromedriver process be killed.
    fn drop(&mut self) {
        if self.quit {
            return;
        }
        let session = Arc::clone(&self.session);
        let deleting = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let delete = session.command(Method::DELETE, "", None);
                let _ = tokio::time::timeout(DROP_QUIT, delete).await;
            });
        });
        let _ = deleting.join();
    }
}

/// Waits until chromedriver on `port` says it is ready.
async fn wait_ready(driver: &mut Driver, port: u16) -> Result<(), WebDriverError> {
    let deadline = Instant::now() + DRIVER_START;
    loop {
        let ready = request(port, Method::GET, "/status", None).await;
        if let Ok(status) = &ready {
            if status.get("ready").and_then(Value::as_bool) == Some(true) {
                return Ok(());
            }
        }
        let exited = driver.child.try_wait()?;
        if exited.is_some() || Instant::now() > deadline {
            let why = match exited {
                Some(status) => format!("it exited with {status}"),
                None => format!("not ready after {DRIVER_START:?}"),
            };
            let tail = stream_runner::process::log_tail(&driver.log(), 20);
            return Err(WebDriverError::Start(format!(
                "{why}; its log ends:\n{tail}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A find command's body for the CSS selector `css`.
fn by_css(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

/// `value` as a string, or a protocol error of `command`.
fn string(value: Value, command: &str) -> Result<String, WebDriverError> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(WebDriverError::Protocol {
            command: command.to_owned(),
            detail: format!("not a string: {}", clip(&other.to_string())),
        }),
    }
}

/// An element of the page, as WebDriver refers to it. It stays valid as
/// long as it is in the page; after it is removed, calls on it fail with
/// `stale element reference`.
#[derive(Debug, Clone)]
pub struct Element {
    session: Arc<Session>,
    id: String,
}

impl Element {
    /// The element a WebDriver reference (`{"element-6066-…": id}`) names.
    fn from_reference(
        session: &Arc<Session>,
        reference: &Value,
        command: &str,
    ) -> Result<Self, WebDriverError> {
        let id = reference
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .ok_or_else(|| WebDriverError::Protocol {
                command: command.to_owned(),
                detail: format!("not an element: {}", clip(&reference.to_string())),
            })?;
        Ok(Self {
            session: Arc::clone(session),
            id: id.to_owned(),
        })
    }

    /// A command on this element (`path` is relative to its URL).
    async fn command(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let path = format!("/element/{}{path}", path_segment(&self.id));
        self.session.command(method, &path, body).await
    }

    /// Its rendered text (what a user sees; hidden text is left out).
    pub async fn text(&self) -> Result<String, WebDriverError> {
        let text = self.command(Method::GET, "/text", None).await?;
        string(text, "GET /element/{id}/text")
    }

    /// The value of its attribute `name`, or `None` when it has none.
    pub async fn attribute(&self, name: &str) -> Result<Option<String>, WebDriverError> {
        let path = format!("/attribute/{}", path_segment(name));
        match self.command(Method::GET, &path, None).await? {
            Value::Null => Ok(None),
            Value::String(value) => Ok(Some(value)),
            other => Ok(Some(other.to_string())),
        }
    }

    /// Whether it is displayed (not hidden by CSS, not of zero size).
    pub async fn is_displayed(&self) -> Result<bool, WebDriverError> {
        let shown = self.command(Method::GET, "/displayed", None).await?;
        shown.as_bool().ok_or_else(|| WebDriverError::Protocol {
            command: "GET /element/{id}/displayed".to_owned(),
            detail: format!("not a boolean: {}", clip(&shown.to_string())),
        })
    }

    /// Clicks it in its middle, as a user would (scrolling it into view;
    /// fails with `element not interactable` or `element click
    /// intercepted` when a user could not click it).
    pub async fn click(&self) -> Result<(), WebDriverError> {
        self.command(Method::POST, "/click", Some(json!({})))
            .await?;
        Ok(())
    }

    /// Its WebDriver reference, to pass it to [`Browser::execute`].
    pub fn to_json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }
}

/// Decodes standard base64 (RFC 4648, `+` and `/`), ignoring ASCII
/// whitespace; the `=` padding may be left out.
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut bits: u32 = 0;
    let mut count = 0usize;
    let mut padding = 0usize;
    for (at, byte) in text.bytes().enumerate() {
        let sextet = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return Err(format!("not base64: byte {byte:#04x} at {at}")),
        };
        if padding > 0 {
            return Err(format!("base64 data after `=` padding at {at}"));
        }
        bits = (bits << 6) | u32::from(sextet);
        count += 1;
        if count.is_multiple_of(4) {
            out.extend_from_slice(&bits.to_be_bytes()[1..]);
            bits = 0;
        }
    }
    let tail = count % 4;
    if padding > 2 || (padding > 0 && tail + padding != 4) {
        return Err("base64 with misplaced `=` padding".to_owned());
    }
    match tail {
        0 => {}
        2 => out.push((bits >> 4) as u8),
        3 => out.extend_from_slice(&((bits >> 2) as u16).to_be_bytes()),
        _ => return Err("base64 cut off: one character in its last group".to_owned()),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_the_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ];
        for (encoded, plain) in vectors {
            assert_eq!(decode_base64(encoded).as_deref(), Ok(plain.as_bytes()));
        }
    }

    #[test]
    fn base64_decodes_every_byte_value_and_skips_whitespace() {
        // All 256 byte values, encoded by coreutils' `base64`.
        let encoded = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\n\
                       MDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5f\n\
                       YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6P\n\
                       kJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/\n\
                       wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v\n\
                       8PHy8/T19vf4+fr7/P3+/w==";
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_base64(encoded), Ok(all));
    }

    #[test]
    fn base64_takes_unpadded_input() {
        assert_eq!(decode_base64("Zg").as_deref(), Ok(&b"f"[..]));
        assert_eq!(decode_base64("Zm8").as_deref(), Ok(&b"fo"[..]));
    }

    #[test]
    fn base64_rejects_what_is_not_base64() {
        for bad in [
            "Zm9v!", "Z", "Zm9vY", "Zg=", "Zg===", "Zg==Zg==", "=Zg", "Zm9v=",
        ] {
            assert!(decode_base64(bad).is_err(), "{bad:?} decoded");
        }
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("data-id"), "data-id");
        assert_eq!(path_segment("a/b?c d"), "a%2Fb%3Fc%20d");
    }

    #[test]
    fn missing_binaries_say_what_to_install() {
        let error = WebDriverError::NotInstalled {
            what: "chromium",
            looked: "CHROMIUM unset, not /usr/bin/chromium".to_owned(),
        };
        assert!(error
            .to_string()
            .contains("apt-get install chromium chromium-driver"));
    }

    /// The page the browser smoke test opens: a counter that ticks, a
    /// button that changes a text and removes a banner.
    const PAGE: &str = r#"<!doctype html>
<html><head><title>smoke</title></head><body>
<p id="banner">banner</p>
<p id="message" data-state="before">before</p>
<p id="count">0</p>
<button id="go" onclick="
  document.getElementById('message').textContent = 'clicked';
  document.getElementById('message').dataset.state = 'after';
  setTimeout(() => document.getElementById('banner').remove(), 300);
">go</button>
<p id="hidden" style="display:none">hidden</p>
<script>
  let n = 0;
  setInterval(() => { document.getElementById('count').textContent = ++n; }, 200);
</script>
</body></html>"#;

    /// Serves [`PAGE`] on a loopback port to every request, until dropped.
    async fn serve_page() -> std::io::Result<(u16, tokio::task::JoinHandle<()>)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let serving = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
                        PAGE.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        Ok((port, serving))
    }

    /// Drives a real headless Chromium through a page: needs Debian's
    /// `chromium` and `chromium-driver`, as the page's integration test
    /// does.
    #[tokio::test]
    async fn drives_headless_chromium() -> Result<(), WebDriverError> {
        let (port, serving) = serve_page().await?;
        let browser = Browser::start().await?;
        let url = format!("http://127.0.0.1:{port}/");
        browser.goto(&url).await?;
        assert_eq!(browser.current_url().await?, url);

        let message = browser.find("#message").await?;
        assert_eq!(message.text().await?, "before");
        assert_eq!(
            message.attribute("data-state").await?.as_deref(),
            Some("before")
        );
        assert_eq!(message.attribute("no-such-attribute").await?, None);
        assert_eq!(browser.find_all("p").await?.len(), 4);
        assert!(browser.find_all(".nothing").await?.is_empty());
        let missing = browser.find("#nothing").await;
        assert_eq!(
            missing.as_ref().err().and_then(WebDriverError::code),
            Some("no such element")
        );

        // A text that changes over time.
        let before = browser.find("#count").await?.text().await?;
        let after = browser
            .wait_text("#count", Duration::from_secs(5), |t| t != before)
            .await?;
        assert_ne!(after, before);

        browser.find("#go").await?.click().await?;
        assert_eq!(message.text().await?, "clicked");
        assert_eq!(
            message.attribute("data-state").await?.as_deref(),
            Some("after")
        );
        browser.wait_gone("#banner", Duration::from_secs(5)).await?;
        assert!(browser.find_all("#banner").await?.is_empty());
        // Hidden counts as gone; a shown element times out, saying so.
        browser.wait_gone("#hidden", Duration::from_secs(1)).await?;
        let stays = browser
            .wait_gone("#count", Duration::from_millis(300))
            .await;
        assert!(
            matches!(&stays, Err(WebDriverError::Timeout { last: Some(l), .. }) if l == "1 still displayed"),
            "{stays:?}"
        );
        let never = browser
            .wait_text("#message", Duration::from_millis(300), |t| t == "never")
            .await;
        assert!(
            matches!(&never, Err(WebDriverError::Timeout { last: Some(l), .. }) if l == "\"clicked\""),
            "{never:?}"
        );
        let late = browser.wait_find("#late", Duration::from_secs(5));
        let (late, _) = tokio::join!(late, async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            browser
                .execute(
                    "const p = document.createElement('p'); p.id = 'late'; p.textContent = 'late'; document.body.append(p);",
                    vec![],
                )
                .await
        });
        assert_eq!(late?.text().await?, "late");

        let sum = browser
            .execute(
                "return arguments[0] + arguments[1];",
                vec![json!(2), json!(3)],
            )
            .await?;
        assert_eq!(sum, json!(5));
        let id = browser
            .execute("return arguments[0].id;", vec![message.to_json()])
            .await?;
        assert_eq!(id, json!("message"));
        let thrown = browser.execute("throw new Error('boom');", vec![]).await;
        assert_eq!(
            thrown.as_ref().err().and_then(WebDriverError::code),
            Some("javascript error")
        );

        let shot = std::env::temp_dir().join(format!("webdriver-smoke-{}.png", std::process::id()));
        browser.screenshot_png(&shot).await?;
        let png = std::fs::read(&shot)?;
        let _ = std::fs::remove_file(&shot);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        // The IHDR chunk's width and height: the 1400x1000 window's viewport.
        let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
        assert!(width > 1000, "width {width}");

        let scratch = browser._driver.dir.clone();
        assert!(scratch.is_dir());
        browser.quit().await?;
        assert!(!scratch.exists(), "{} left behind", scratch.display());

        // Dropped without quitting: the session is deleted all the same.
        let dropped = Browser::start().await?;
        dropped.goto(&url).await?;
        let scratch = dropped._driver.dir.clone();
        let port = dropped.session.port;
        drop(dropped);
        assert!(!scratch.exists(), "{} left behind", scratch.display());
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err());
        serving.abort();
        Ok(())
    }
}
