//! What the integration tests, the chaos tool (`examples/chaos/`) and the
//! bench (`examples/bench/`) share, written once: free ports, the keyed
//! state as the server stores it, skewed keys, the exactly-once checks of a
//! running word count's and of windowed counts' output, and the
//! fault-injection driver.

pub mod chaos;
pub mod keys;
pub mod running_counts;
pub mod state;
pub mod window_counts;

/// A free TCP port on loopback.
pub fn free_port() -> std::io::Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
}
