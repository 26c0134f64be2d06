//! The Restate admin API: health, registration, SQL introspection.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::http::{api_client, ApiError};

/// Why an admin request failed (the same type as [`CallError`](super::CallError)).
pub type AdminError = ApiError;

api_client! {
    /// A client for a Restate server's admin API (port 9070 by default):
    /// registering an endpoint, as `restate deployments register` does, and
    /// SQL over the server's tables, as `restate sql` does.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), stream_runtime::restate::AdminError> {
    /// use stream_runtime::restate::AdminClient;
    ///
    /// let admin = AdminClient::new("http://localhost:9070");
    /// let deployment = admin.register("http://127.0.0.1:9080").await?;
    /// #[derive(serde::Deserialize)]
    /// struct Count {
    ///     n: u64,
    /// }
    /// let running: Vec<Count> = admin
    ///     .query("SELECT count(*) AS n FROM sys_invocation WHERE status != 'completed'")
    ///     .await?;
    /// println!("{deployment}: {} invocations running", running[0].n);
    /// # Ok(())
    /// # }
    /// ```
    pub struct AdminClient for "admin API" at "http://localhost:9070", health "/health";
}

impl AdminClient {
    /// Registers (or re-registers) the deployment at `endpoint_uri`, as
    /// `restate deployments register <uri> --force` does, and answers its id
    /// (`dp_…`). A new URI is a new deployment: new invocations go to it,
    /// and those already started stay on the one they started on.
    pub async fn register(&self, endpoint_uri: &str) -> Result<String, AdminError> {
        #[derive(Deserialize)]
        struct Registered {
            id: String,
        }
        let body = serde_json::json!({ "uri": endpoint_uri, "force": true }).to_string();
        let what = format!("registering {endpoint_uri}");
        let registered: Registered = self.http.post_json("/deployments", body, &what).await?;
        Ok(registered.id)
    }

    /// Removes the deployment `id`, as `restate deployments remove <id>
    /// --force` does. Do it only once no invocation runs on it (see
    /// `sys_invocation.pinned_deployment_id`): one that still did could not
    /// go on.
    pub async fn remove_deployment(&self, id: &str) -> Result<(), AdminError> {
        let what = format!("removing deployment {id}");
        self.http
            .delete_ok(&format!("/deployments/{id}?force=true"), &what)
            .await
            .map(drop)
    }

    /// Runs a SQL query over the server's introspection tables
    /// (`sys_invocation`, `state`, …) and decodes each row.
    pub async fn query<Row: DeserializeOwned>(&self, sql: &str) -> Result<Vec<Row>, AdminError> {
        #[derive(Deserialize)]
        struct Rows<Row> {
            rows: Vec<Row>,
        }
        let body = serde_json::json!({ "query": sql }).to_string();
        let rows: Rows<Row> = self
            .http
            .post_json("/query", body, &format!("query `{sql}`"))
            .await?;
        Ok(rows.rows)
    }
}
