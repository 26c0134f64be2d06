//! The page of the running pipelines: one HTML file (`index.html`, no
//! build step) and the JSON it polls, served on the address the runner
//! prints. Its buttons call the same public handlers as the manual flow
//! (`stop`, `addTokens`, `replay`).
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the page |
//! | `GET /api/pipelines` | each pipeline's graph, this process's counts, and its `overview` |
//! | `POST /api/pipelines/{name}/stop` | drains it (`{name}Source/stop`) |
//! | `POST /api/pipelines/{name}/resume` | adds the run's tokens back (`addTokens`) |
//! | `POST /api/pipelines/{name}/replay/{id}` | replays one dead letter |
//! | `POST /api/pipelines/{name}/replay-all` | replays every one that can be |

mod http;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use stream_runtime::restate::IngressClient;
use stream_runtime::{Graph, ServiceNames, VertexKind};
use tokio::net::TcpListener;

use http::{Request, Response};

const INDEX: &str = include_str!("index.html");

/// The most connections the page answers at once.
const MAX_OPEN: usize = 16;

/// What the page serves: the pipelines, and how to reach them.
pub(crate) struct Page {
    pub ingress: IngressClient,
    pub pipelines: Vec<(ServiceNames, Graph)>,
    /// The tokens `resume` adds.
    pub tokens: u64,
    /// Where the page listens.
    pub addr: SocketAddr,
}

/// Serves the page on `listener` until the task is dropped.
pub(crate) async fn serve(listener: TcpListener, page: Page) {
    let page = std::sync::Arc::new(page);
    // A few requests at a time: the page polls once a second.
    let open = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_OPEN));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait rather than spin.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let Ok(permit) = std::sync::Arc::clone(&open).acquire_owned().await else {
            return;
        };
        let page = std::sync::Arc::clone(&page);
        tokio::spawn(async move {
            if let Err(error) = http::answer(stream, |request| page.route(request)).await {
                tracing::debug!(%error, "a page request failed");
            }
            drop(permit);
        });
    }
}

/// Binds the page's address.
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

impl Page {
    async fn route(&self, request: Request) -> Response {
        if !self.host_allowed(request.host.as_deref()) {
            return Response::forbidden("the page answers requests to its own address only");
        }
        if request.method == "POST" && !request.from_page {
            return Response::forbidden("actions come from the page (X-Page header)");
        }
        let parts: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        match (request.method.as_str(), parts.as_slice()) {
            ("GET", [""]) => Response::html(INDEX),
            ("GET", ["api", "pipelines"]) => Response::json(200, &self.pipelines_json().await),
            ("POST", ["api", "pipelines", name, action @ ..]) => {
                let Some((names, _)) = self.pipelines.iter().find(|(n, _)| n.pipeline == *name)
                else {
                    return Response::json(404, &answer(false, format!("no pipeline {name}")));
                };
                let (ok, message) = self.act(names, action).await;
                Response::json(if ok { 200 } else { 400 }, &answer(ok, message))
            }
            _ => Response::json(404, &answer(false, "not found".to_owned())),
        }
    }

    /// Whether a request for `host` is for this page: on a loopback
    /// address, only `localhost`, `127.0.0.1` or `[::1]` at its port, so
    /// that another site's name pointed at 127.0.0.1 (DNS rebinding) reads
    /// nothing; on any other address, any host.
    fn host_allowed(&self, host: Option<&str>) -> bool {
        if !self.addr.ip().is_loopback() {
            return true;
        }
        let port = self.addr.port();
        let Some(host) = host else {
            return false;
        };
        ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .any(|name| host == format!("{name}:{port}"))
    }

    /// Runs a button's action: whether it worked, and what to show.
    async fn act(&self, names: &ServiceNames, action: &[&str]) -> (bool, String) {
        let ingress = &self.ingress;
        let done = match action {
            ["stop"] => (ingress.stop(names).await)
                .map(|_| "stopping: each token finishes its batch and parks".to_owned()),
            ["resume"] => (ingress.add_tokens(names, self.tokens).await)
                .map(|added| format!("resumed with {} tokens", added.added)),
            ["replay-all"] => (ingress.replay(names, None).await).map(|r| replayed_text(&r)),
            ["replay", id] => match id.parse::<u64>() {
                Ok(id) => (ingress.replay(names, Some(id)).await).map(|r| replayed_text(&r)),
                Err(_) => return (false, format!("`{id}` is not a dead letter's number")),
            },
            _ => return (false, format!("no action {}", action.join("/"))),
        };
        match done {
            Ok(message) => (true, message),
            Err(error) => (false, error.to_string()),
        }
    }

    async fn pipelines_json(&self) -> Value {
        let mut all = Vec::new();
        for (names, graph) in &self.pipelines {
            all.push(self.pipeline_json(names, graph).await);
        }
        Value::Array(all)
    }

    async fn pipeline_json(&self, names: &ServiceNames, graph: &Graph) -> Value {
        let counts = stream_runtime::counts::of(&names.pipeline);
        let mut keyed = counts.keyed.iter();
        let mut vertex_counts = Vec::new();
        let sink = graph.sink();
        for vertex in &graph.vertices {
            let io = match vertex.kind {
                VertexKind::Source => Some(counts.source),
                VertexKind::Keyed => Some(keyed.next().copied().unwrap_or_default()),
                VertexKind::Sink if Some(vertex.id) == sink => Some(counts.sink),
                VertexKind::Sink => Some(counts.branch),
            };
            if let Some(io) = io {
                vertex_counts.push(json!({
                    "vertex": vertex.id,
                    "records_in": io.records_in,
                    "records_out": io.records_out,
                }));
            }
        }
        let vertices: Vec<Value> = (graph.vertices.iter())
            .map(|v| {
                let unit = match v.kind {
                    VertexKind::Source => "splits",
                    VertexKind::Keyed => "key groups",
                    VertexKind::Sink => "partitions",
                };
                json!({"id": v.id, "kind": v.kind, "name": v.name, "parallelism": v.parallelism, "unit": unit})
            })
            .collect();
        let mut pipeline = json!({
            "name": names.pipeline,
            "graph": {"vertices": vertices, "edges": graph.edges},
            "counts": vertex_counts,
            "taken_at_ms": now_ms(),
        });
        match self.ingress.overview(names).await {
            Ok(overview) => {
                pipeline["status"] = json!(overview.status);
                pipeline["tokens_parked"] = json!(overview.tokens_parked);
                pipeline["splits"] = json!(overview.splits);
                pipeline["dead_letters"] = json!(overview.dead_letters);
                pipeline["replayed"] = json!(overview.replayed);
            }
            Err(error) => pipeline["error"] = json!(error.to_string()),
        }
        pipeline
    }
}

fn answer(ok: bool, message: String) -> Value {
    json!({"ok": ok, "message": message})
}

fn replayed_text(replayed: &stream_runtime::overview::Replayed) -> String {
    let mut text = format!("replayed {}", replayed.replayed.len());
    if !replayed.failed_again.is_empty() {
        text += &format!(
            ", {} failed again (new dead letters)",
            replayed.failed_again.len()
        );
    }
    text
}

fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since.as_millis() as u64
}
