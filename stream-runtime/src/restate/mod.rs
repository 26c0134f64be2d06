//! Talking to a Restate server: its admin API, its ingress, and (with the
//! `runner` feature) starting a local one for development.

mod admin;
mod http;
mod ingress;
#[cfg(feature = "runner")]
mod local_server;
mod stalls;

pub use admin::{AdminClient, AdminError};
pub use http::{ApiError, HttpError};
pub use ingress::{CallError, IngressClient};
#[cfg(feature = "runner")]
#[cfg_attr(docsrs, doc(cfg(feature = "runner")))]
pub use local_server::{
    die_with_parent, find_cli_binary, find_server_binary, log_tail, spawn_logged, LocalServer,
    LocalServerOptions, ServerBinaryError, RESTATE_VERSION,
};
pub use stalls::Stalled;
