//! Just enough HTTP/1.1 for the page: one request per connection, its
//! method and path read, its body ignored, and the answer sent with
//! `Connection: close`.

use std::future::Future;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most bytes of a request's head the page reads.
const MAX_HEAD: usize = 16 * 1024;

/// How long a connection may take to send its request's head.
const HEAD_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// A request's method and path (without its query), and the headers the
/// page checks.
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    /// The `Host` header.
    pub host: Option<String>,
    /// Whether it carries `X-Page`, which only the page's own script sends
    /// (a header another site's page cannot send without asking first).
    pub from_page: bool,
}

/// An answer: its status, content type and body.
pub(crate) struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Response {
    pub(crate) fn html(body: &str) -> Self {
        Self {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: body.as_bytes().to_vec(),
        }
    }

    pub(crate) fn forbidden(why: &str) -> Self {
        Self {
            status: 403,
            content_type: "text/plain",
            body: why.as_bytes().to_vec(),
        }
    }

    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }
}

/// Reads one request from `stream`, answers it with `route`, and closes.
pub(crate) async fn answer<F, Fut>(mut stream: TcpStream, route: F) -> std::io::Result<()>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let head = tokio::time::timeout(HEAD_WITHIN, read_head(&mut stream)).await;
    let head = head.map_err(|_| std::io::Error::other("no request head in time"))?;
    let response = match head? {
        Some(request) => route(request).await,
        None => Response {
            status: 400,
            content_type: "text/plain",
            body: b"bad request".to_vec(),
        },
    };
    let reason = match response.status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&response.body).await?;
    stream.shutdown().await
}

/// The request line of the head, once the head has arrived; `None` for a
/// head too long or not HTTP.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await?;
        if read == 0 || head.len() + read > MAX_HEAD {
            return Ok(None);
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(parse_head(&head))
}

fn parse_head(head: &[u8]) -> Option<Request> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.lines();
    let line = lines.next()?;
    let mut words = line.split(' ');
    let method = words.next()?.to_owned();
    let target = words.next()?;
    let path = target.split('?').next().unwrap_or(target).to_owned();
    if !words.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let mut request = Request {
        method,
        path,
        host: None,
        from_page: false,
    };
    for header in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "host" => request.host = Some(value.trim().to_owned()),
            "x-page" => request.from_page = true,
            _ => {}
        }
    }
    Some(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_gives_its_method_path_host_and_whether_the_page_sent_it() {
        let head = b"POST /api/pipelines/P/stop?x=1 HTTP/1.1\r\nHost: a:1\r\nx-page: 1\r\n\r\n";
        let request = parse_head(head).map(|r| (r.method, r.path, r.host, r.from_page));
        let path = "/api/pipelines/P/stop".to_owned();
        assert_eq!(
            request,
            Some(("POST".to_owned(), path, Some("a:1".to_owned()), true))
        );
        let plain = parse_head(b"GET / HTTP/1.1\r\n\r\n").map(|r| (r.host, r.from_page));
        assert_eq!(plain, Some((None, false)));
        assert!(parse_head(b"GARBAGE\r\n\r\n").is_none());
    }
}
