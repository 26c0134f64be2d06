//! Where a run's pipeline lives: one restate-server or a cluster of them,
//! and one endpoint process or replicas behind an HTTP/2 cleartext load
//! balancer (nginx), registered as one address. The run kills and restarts
//! one of each.

use std::path::{Path, PathBuf};
use std::time::Duration;

use stream_runner::{LocalServer, LocalServerOptions};
use stream_runtime::restate::{AdminClient, IngressClient};

use super::balancer::Balancer;
use super::process::{free_port, EndpointProcess, Schedule};
use super::snapshots::SnapshotStore;

/// How many server nodes and endpoint replicas a run has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// restate-server nodes: 1, or a cluster (replication 2).
    pub nodes: usize,
    /// Endpoint processes: 1, or replicas behind nginx.
    pub replicas: usize,
}

impl Shape {
    /// One server, one endpoint.
    pub const SINGLE: Shape = Shape {
        nodes: 1,
        replicas: 1,
    };

    /// `NODESxREPLICAS`, such as `3x2`.
    pub fn parse(text: &str) -> Result<Shape, String> {
        let bad = || format!("{text}: expected NODESxREPLICAS, such as 3x2");
        let (nodes, replicas) = text.split_once('x').ok_or_else(bad)?;
        let shape = Shape {
            nodes: nodes.trim().parse().map_err(|_| bad())?,
            replicas: replicas.trim().parse().map_err(|_| bad())?,
        };
        if shape.nodes == 0 || shape.replicas == 0 || shape.nodes == 2 {
            return Err(format!(
                "{text}: 1 node or a cluster of 3 or more, and 1 or more replicas"
            ));
        }
        Ok(shape)
    }

    /// For a table: `1 node, 1 endpoint`.
    pub fn label(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "{}, {}",
            plural(self.nodes, "node", "nodes (replication 2)"),
            plural(self.replicas, "endpoint", "endpoints behind nginx")
        )
    }
}

/// The servers and endpoints of a run.
pub(super) struct Topology {
    servers: Vec<LocalServer>,
    endpoints: Vec<EndpointProcess>,
    balancer: Option<Balancer>,
    snapshots: Option<SnapshotStore>,
}

impl Topology {
    /// Starts `shape` in `scratch`: for a cluster with `snapshots`, the
    /// snapshot store; the servers (a cluster's nodes all at once, since
    /// none is healthy before the others join); the endpoints, each run as
    /// `binary` with `args(port)`; and nginx in front of them if there are
    /// several.
    pub async fn start(
        shape: Shape,
        snapshots: bool,
        scratch: &Path,
        binary: &Path,
        args: impl Fn(u16) -> Vec<String>,
    ) -> Result<Self, String> {
        let snapshots = match snapshots && shape.nodes > 1 {
            true => Some(SnapshotStore::start(&scratch.join("snapshots")).await?),
            false => None,
        };
        let mut options = server_options(shape.nodes, scratch)?;
        if let Some(store) = &snapshots {
            for node in &mut options {
                node.env.extend(store.settings());
            }
        }
        let starting: Vec<_> = options
            .into_iter()
            .map(|options| tokio::spawn(LocalServer::start(options)))
            .collect();
        let mut servers = Vec::new();
        for started in starting {
            let server = started.await.map_err(|e| e.to_string())?;
            servers.push(server.map_err(|e| e.to_string())?);
        }
        let mut endpoints = Vec::new();
        for replica in 0..shape.replicas {
            let port = free_port()?;
            let mut endpoint = EndpointProcess {
                binary: binary.to_owned(),
                args: args(port),
                port,
                log: scratch.join(format!("endpoint-{replica}.log")),
                child: None,
            };
            endpoint.start().await?;
            endpoints.push(endpoint);
        }
        let balancer = match shape.replicas {
            1 => None,
            _ => {
                let ports: Vec<u16> = endpoints.iter().map(|e| e.port).collect();
                Some(Balancer::start(&scratch.join("nginx"), &ports).await?)
            }
        };
        Ok(Self {
            servers,
            endpoints,
            balancer,
            snapshots,
        })
    }

    /// How many partitions have a snapshot in the store, if there is one,
    /// waiting up to 30 s for the first.
    pub async fn partitions_snapshotted(&self) -> Result<Option<usize>, String> {
        let Some(store) = &self.snapshots else {
            return Ok(None);
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let snapshotted = store.partitions_snapshotted()?;
            if snapshotted > 0 || std::time::Instant::now() > deadline {
                return Ok(Some(snapshotted));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The admin API of the first node.
    pub fn admin(&self) -> AdminClient {
        self.servers[0].admin()
    }

    /// The ingress of the first node.
    pub fn ingress(&self) -> IngressClient {
        self.servers[0].ingress()
    }

    /// The one address the servers call: nginx's, or the endpoint's.
    pub fn endpoint_uri(&self) -> String {
        let port = match &self.balancer {
            Some(balancer) => balancer.port,
            None => self.endpoints[0].port,
        };
        format!("http://127.0.0.1:{port}")
    }

    /// SIGKILLs one server node (chosen by `schedule`), waits, and starts it
    /// again on its data dir.
    pub async fn kill_server(&mut self, schedule: &mut Schedule) -> Result<(), String> {
        let node = (schedule.next() % self.servers.len() as u64) as usize;
        let server = &mut self.servers[node];
        server.kill();
        tokio::time::sleep(schedule.millis(0, 400)).await;
        server.restart().await.map_err(|e| e.to_string())
    }

    /// SIGKILLs one endpoint process (chosen by `schedule`), waits, and
    /// starts it again on its port.
    pub async fn kill_endpoint(&mut self, schedule: &mut Schedule) -> Result<(), String> {
        let replica = (schedule.next() % self.endpoints.len() as u64) as usize;
        let endpoint = &mut self.endpoints[replica];
        endpoint.kill();
        tokio::time::sleep(schedule.millis(0, 400)).await;
        endpoint.start().await
    }

    /// Stops everything: endpoints and nginx at once, servers gracefully.
    pub fn stop(mut self) {
        for endpoint in &mut self.endpoints {
            endpoint.kill();
        }
        self.balancer = None;
        for server in &mut self.servers {
            server.stop(Duration::from_secs(5));
        }
        self.snapshots = None;
    }
}

/// Each node's settings: one server as the bench's; a cluster's nodes with
/// one cluster name, replication 2, every node in the metadata client's
/// list, and the first one provisioning the cluster.
fn server_options(nodes: usize, scratch: &Path) -> Result<Vec<LocalServerOptions>, String> {
    let ports: Vec<[u16; 3]> = (0..nodes)
        .map(|_| Ok([free_port()?, free_port()?, free_port()?]))
        .collect::<Result<_, String>>()?;
    let dir = |node: usize| -> PathBuf {
        match nodes {
            1 => scratch.join("restate"),
            _ => scratch.join(format!("restate-n{node}")),
        }
    };
    let addresses: Vec<String> = ports
        .iter()
        .map(|[_, _, node]| format!("\"http://127.0.0.1:{node}\""))
        .collect();
    let addresses = format!("[{}]", addresses.join(","));
    Ok(ports
        .iter()
        .enumerate()
        .map(|(node, [ingress, admin, port])| {
            let mut options = LocalServerOptions::new(dir(node)).ports(*ingress, *admin, *port);
            if nodes > 1 {
                let settings = [
                    ("RESTATE_CLUSTER_NAME", "stream-chaos".to_owned()),
                    ("RESTATE_NODE_NAME", format!("n{node}")),
                    ("RESTATE_AUTO_PROVISION", (node == 0).to_string()),
                    ("RESTATE_DEFAULT_REPLICATION", "2".to_owned()),
                    ("RESTATE_METADATA_CLIENT__ADDRESSES", addresses.clone()),
                ];
                options
                    .env
                    .extend(settings.map(|(key, value)| (key.to_owned(), value)));
            }
            options
        })
        .collect())
}
