//! The runner's page in a real browser (headless Chromium from Debian's
//! packages, driven over WebDriver): the `replay` example on the shared
//! server, its page opened, the graph, the rates and the watermark read
//! as they change, a dead letter replayed after the fix, and the stop
//! and resume buttons pressed.
//!
//! The screenshot goes to `target/…/page.png`; with
//! `PAGE_SCREENSHOT=docs/src/page.png` it replaces the guide's.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use stream_support::webdriver::{Browser, WebDriverError};

use crate::harness::{harness, scratch};

const WAIT: Duration = Duration::from_secs(60);

/// The lines of the sink's file that hold the sum the replayed record
/// made (`last` is the number added last).
fn sums_of(out: &Path, last: u64) -> usize {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let needle = format!("\"last\":{last},");
    text.lines().filter(|line| line.contains(&needle)).count()
}

/// The example, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn number(browser: &Browser, css: &str) -> Result<f64, WebDriverError> {
    let text = browser.find(css).await?.text().await?;
    Ok(text.trim().parse().unwrap_or(f64::NAN))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_pipeline_live_and_replays_a_dead_letter_once() {
    let server = harness();
    let dir = scratch("page");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let bug = dir.join("bug");
    let out = dir.join("sums.jsonl");
    std::fs::write(&bug, "").unwrap_or_else(|e| panic!("{}: {e}", bug.display()));
    let port = stream_support::free_port().unwrap_or_else(|e| panic!("a free port: {e}"));
    let page_port = stream_support::free_port().unwrap_or_else(|e| panic!("a free port: {e}"));
    let mut child = Command::new(crate::runner::example("replay"))
        .args(["--port", &port.to_string()])
        .args(["--page", &format!("127.0.0.1:{page_port}")])
        .args(["--admin-url", server.admin().url()])
        .args(["--ingress-url", server.ingress().url()])
        .args(["--tokens", "2", "--fail-at", "50", "--duration", "300"])
        .arg("--bug")
        .arg(&bug)
        .arg("--out")
        .arg(&out)
        // The bug panics on purpose: one line each, not a backtrace.
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running the replay example: {e}"));
    let stdout = child.stdout.take();
    let running = Running(child);
    let (said, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout
            .map(BufReader::new)
            .into_iter()
            .flat_map(|r| r.lines())
        {
            let Ok(line) = line else { break };
            if said.send(line).is_err() {
                break;
            }
        }
    });
    let url = loop {
        let line = lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("the runner printed no page address: {e}"));
        if let Some(url) = line.strip_prefix("page on ") {
            break url.to_owned();
        }
    };

    let browser = Browser::start()
        .await
        .unwrap_or_else(|e| panic!("headless Chromium: {e}"));
    let screenshot = std::env::var_os("PAGE_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("page.png"));
    let checked = check_page(&browser, &url, &bug, &out, &screenshot).await;
    let seen = match &checked {
        Ok(()) => String::new(),
        Err(_) => what_the_page_saw(&browser, &url).await,
    };
    let _ = browser.quit().await;
    drop(running);
    checked.unwrap_or_else(|e| panic!("the page: {e}\n{seen}"));
    let said: Vec<String> = lines.try_iter().collect();
    assert!(
        (said.iter()).any(|l| l.starts_with("RunningSums: stopped from outside")),
        "the runner did not say it was stopped from the page: {said:#?}"
    );
}

/// For a failure's message: what the page showed last (its poll count,
/// when it last updated, its banner) and what its API answers now.
async fn what_the_page_saw(browser: &Browser, url: &str) -> String {
    let script = "return [document.body.dataset.polls, \
        document.getElementById('meta').textContent, \
        document.getElementById('banner').textContent].join(' | ')";
    let shown = match browser.execute(script, vec![]).await {
        Ok(shown) => shown.to_string(),
        Err(e) => format!("(the page could not be read: {e})"),
    };
    let api = api_now(url).unwrap_or_else(|e| format!("(GET /api/pipelines: {e})"));
    format!("the page showed: {shown}\nGET /api/pipelines now: {api}")
}

/// `GET /api/pipelines` on the page's address, with a plain socket.
fn api_now(url: &str) -> std::io::Result<String> {
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&host)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let request = format!("GET /api/pipelines HTTP/1.0\r\nHost: {host}\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

async fn check_page(
    browser: &Browser,
    url: &str,
    bug: &Path,
    out: &Path,
    screenshot: &Path,
) -> Result<(), WebDriverError> {
    browser.goto(url).await?;
    browser
        .wait_for(WAIT, "two polls", async |b| {
            let polls = b
                .execute("return document.body.dataset.polls", vec![])
                .await?;
            let polls: u64 = polls.as_str().and_then(|p| p.parse().ok()).unwrap_or(0);
            Ok((polls >= 2).then_some(()))
        })
        .await?;

    // The graph, as the pipeline was written.
    let mut vertices = Vec::new();
    for vertex in browser.find_all(".vertex").await? {
        let kind = vertex.attribute("data-kind").await?.unwrap_or_default();
        let name = browser
            .execute(
                "return arguments[0].querySelector('.vertex-name').textContent",
                vec![vertex.to_json()],
            )
            .await?;
        vertices.push((kind, name.as_str().unwrap_or_default().to_owned()));
    }
    let expected = [
        ("source", "Sequence → event_time → map"),
        ("keyed", "key_by → reduce"),
        ("sink", "FileSink"),
    ];
    let expected: Vec<(String, String)> = (expected.iter())
        .map(|(k, n)| (k.to_string(), n.to_string()))
        .collect();
    assert_eq!(vertices, expected, "the page's vertices");

    // Rates and the watermark move.
    let keyed = ".vertex[data-kind=keyed]";
    let before = number(browser, &format!("{keyed} .count-in")).await?;
    let watermark = browser
        .find(".watermark")
        .await?
        .attribute("data-ms")
        .await?;
    let rate = browser
        .wait_text(&format!("{keyed} .rate-in"), WAIT, |r| {
            r.parse::<f64>().is_ok_and(|r| r > 0.0)
        })
        .await?;
    browser
        .wait_for(WAIT, "the keyed stage's count to grow", async |b| {
            let now = number(b, &format!("{keyed} .count-in")).await?;
            Ok((now > before).then_some(()))
        })
        .await?;
    browser
        .wait_for(WAIT, "the watermark to move", async |b| {
            let now = b.find(".watermark").await?.attribute("data-ms").await?;
            Ok((now.as_deref().is_some_and(|n| !n.is_empty()) && now != watermark).then_some(()))
        })
        .await?;
    let stage = browser.find(&format!("{keyed} .vertex-watermark")).await?;
    let stage = stage.attribute("data-ms").await?.unwrap_or_default();
    assert!(
        stage.parse::<i64>().is_ok(),
        "the keyed stage's watermark: {stage:?}"
    );
    let source_rate = number(browser, ".vertex[data-kind=source] .rate-in").await?;
    assert!(
        source_rate > 0.0,
        "the source's rate: {source_rate}, the keyed stage's {rate}"
    );

    // The record that failed is listed, and nothing of it reached the sink.
    let letter = browser
        .wait_find("tr.dead-letter[data-id='0']", WAIT)
        .await?;
    let record = letter.text().await?;
    assert!(record.contains("\"last\":50"), "the dead letter: {record}");
    assert_eq!(
        sums_of(out, 50),
        0,
        "the failed record's sum reached the sink"
    );
    browser.screenshot_png(screenshot).await?;

    // The fix, then Replay: it leaves the list, and its sum is written once.
    std::fs::remove_file(bug)?;
    browser
        .find("button.replay[data-id='0']")
        .await?
        .click()
        .await?;
    browser
        .wait_gone("tr.dead-letter[data-id='0']", WAIT)
        .await?;
    let message = browser
        .wait_text(".action-message", WAIT, |m| m.contains("replayed"))
        .await?;
    assert_eq!(message, "replayed 1");
    browser
        .wait_for(WAIT, "the replayed sum in the sink", async |_| {
            Ok((sums_of(out, 50) > 0).then_some(()))
        })
        .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        sums_of(out, 50),
        1,
        "the replayed record's sum, written once"
    );
    let count = browser.find(".dead-letter-count").await?.text().await?;
    assert_eq!(count, "1", "dead letters kept in all");

    // Stop drains the pipeline; the run serves on, paused, once every
    // token has parked; Resume adds tokens again.
    browser.find("button.stop").await?.click().await?;
    browser
        .wait_text(".state", WAIT, |s| s == "stopped")
        .await?;
    browser
        .wait_text(".tokens-in-flight", WAIT, |n| n == "0")
        .await?;
    // The runner's progress loop has seen every token parked.
    tokio::time::sleep(Duration::from_secs(3)).await;
    browser.find("button.resume").await?.click().await?;
    let answered = |m: &str| !m.is_empty() && !m.ends_with('…');
    let resumed = browser.wait_text(".action-message", WAIT, answered).await?;
    assert!(
        resumed.starts_with("resumed with 2 tokens"),
        "resume: {resumed}"
    );
    browser
        .wait_text(".state", WAIT, |s| s == "running")
        .await?;
    // Stopped again before the example is killed, so that no token of it
    // goes on calling an endpoint that is gone.
    browser.find("button.stop").await?.click().await?;
    browser
        .wait_text(".state", WAIT, |s| s == "stopped")
        .await?;
    Ok(())
}
