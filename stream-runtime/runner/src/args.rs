//! The runner's command line: its flags, each with the environment
//! variable that can set it, flattened into a program's own parser.

use std::net::SocketAddr;
use std::time::Duration;

/// The runner's command-line flags. Flatten them into a program's own
/// `clap::Parser` with `#[command(flatten)]`, so that one `--help` lists
/// both, and hand them to [`Runner::new`](super::Runner::new).
///
/// `--admin-url` and `--ingress-url` (or `RESTATE_ADMIN_URL` and
/// `RESTATE_INGRESS_URL`) name a server to use instead of starting one;
/// with only one of them, or with `--serve-only`, the runner only serves
/// and prints the steps.
///
/// ```
/// use clap::Parser;
/// use stream_runner::RunnerArgs;
///
/// #[derive(Parser)]
/// struct Cli {
///     /// Where the alerts go.
///     #[arg(long)]
///     out: std::path::PathBuf,
///     #[command(flatten)]
///     runner: RunnerArgs,
/// }
///
/// let cli = Cli::parse_from(["alerts", "--out", "a.txt", "--tokens", "4"]);
/// assert_eq!(cli.runner.tokens, Some(4));
/// ```
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunnerArgs {
    /// Tokens to inject on a first start [default: 10]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=stream_runtime::MAX_TOKENS_PER_CALL))]
    pub tokens: Option<u64>,
    /// Port of this endpoint [default: 9080]
    #[arg(long)]
    pub port: Option<u16>,
    /// Start this program's local server on an empty data dir (its own,
    /// under target/restate-dev/; other programs' state is not touched)
    #[arg(long)]
    pub fresh: bool,
    /// Only serve the endpoint; print how to register and start it
    #[arg(long)]
    pub serve_only: bool,
    /// Stop after this many seconds
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Serve Prometheus metrics on this address, such as 0.0.0.0:9464
    /// (`GET /metrics`; needs the `metrics` feature)
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Serve the pipelines' page on this address [default: 127.0.0.1:9400,
    /// skipped with a warning when taken]
    #[arg(long, value_name = "ADDR", conflicts_with = "no_page")]
    pub page: Option<SocketAddr>,
    /// Serve no page
    #[arg(long)]
    pub no_page: bool,
    /// Replay dead letters once the endpoint is registered: one by its
    /// number, or `all` that can be (then run as usual)
    #[arg(long, value_name = "N|all", value_parser = parse_replay)]
    pub replay: Option<Replay>,
    /// The admin API of a running Restate server to use instead of
    /// starting one (with --ingress-url)
    #[arg(long, env = "RESTATE_ADMIN_URL", value_name = "URL")]
    pub admin_url: Option<String>,
    /// The ingress of that server
    #[arg(long, env = "RESTATE_INGRESS_URL", value_name = "URL")]
    pub ingress_url: Option<String>,
}

/// Which dead letters `--replay` sends in again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Every one that can be.
    All,
    /// The one with this number.
    One(u64),
}

fn parse_replay(text: &str) -> Result<Replay, String> {
    match text {
        "all" => Ok(Replay::All),
        n => (n.parse().map(Replay::One))
            .map_err(|_| format!("`{n}` is neither a dead letter's number nor `all`")),
    }
}

/// A program whose only flags are the runner's.
#[derive(clap::Parser)]
#[command(
    about = "Runs this program's pipelines on Restate: starts a local restate-server \
             (or uses the one --admin-url and --ingress-url name), serves and registers \
             the endpoint, injects tokens and prints progress.",
    after_help = "The local server is found as RESTATE_SERVER_BIN, in node_modules, or on PATH."
)]
pub(super) struct RunnerOnly {
    #[command(flatten)]
    pub runner: RunnerArgs,
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub tokens: u64,
    pub port: u16,
    pub fresh: bool,
    pub serve_only: bool,
    pub duration: Option<Duration>,
    pub metrics: Option<SocketAddr>,
    pub page: PageAt,
    pub replay: Option<Replay>,
    pub admin_url: Option<String>,
    pub ingress_url: Option<String>,
}

/// Where the page is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PageAt {
    /// Nowhere (`--no-page`).
    Off,
    /// The default address: skipped with a warning when it is taken.
    Default(SocketAddr),
    /// The address `--page` gave: the run fails when it is taken.
    Given(SocketAddr),
}

/// The page's address when `--page` gives none.
pub(super) const DEFAULT_PAGE: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9400);

impl Settings {
    pub fn new(args: RunnerArgs, default_tokens: u64) -> Self {
        Settings {
            tokens: args.tokens.unwrap_or(default_tokens),
            port: args.port.unwrap_or(9080),
            fresh: args.fresh,
            serve_only: args.serve_only,
            duration: args.duration.map(Duration::from_secs),
            metrics: args.metrics,
            page: match (args.no_page, args.page) {
                (true, _) => PageAt::Off,
                (false, Some(addr)) => PageAt::Given(addr),
                (false, None) => PageAt::Default(DEFAULT_PAGE),
            },
            replay: args.replay,
            admin_url: args.admin_url,
            ingress_url: args.ingress_url,
        }
    }
}
