//! Talking to a Restate server: its admin API, its ingress, and starting a
//! local one for development.

mod admin;
mod http;
mod ingress;
mod local_server;

pub use admin::{AdminClient, AdminError};
pub use http::{ApiError, HttpError};
pub use ingress::{CallError, IngressClient};
pub use local_server::{
    die_with_parent, find_cli_binary, find_server_binary, LocalServer, LocalServerOptions,
    ServerBinaryError, RESTATE_VERSION,
};
