//! Ports for the servers a test, the bench or the chaos driver starts.
//!
//! A port the kernel hands out for `bind(0)` lies in its ephemeral range, the
//! same range it draws from for every outgoing connection on the machine. Such
//! a port is free when picked but can be taken by some client's connection
//! before restate-server or Kafka binds it ("Address in use", seen in the
//! bench). So ports here are picked *below* the ephemeral range, where the
//! kernel never hands one out by itself, and each is handed out once per
//! process. Processes start at different places in the range (by their pid),
//! and a port is only returned after a bind on it succeeded, so two processes
//! of this crate rarely meet and never both get a port one of them holds.

use std::io;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port handed out: above the well-known and most registered
/// services' ports.
const LOWEST: u16 = 20_000;

/// Where the next pick starts, as an offset into the range; `u32::MAX` until
/// the first pick.
static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);

/// A port on loopback that was free a moment ago and lies outside the kernel's
/// ephemeral range, so no outgoing connection will take it before its server
/// binds it. Never the same port twice in one process (until the range wraps).
pub fn free_port() -> io::Result<u16> {
    let (low, high) = range(ephemeral_low());
    let size = u32::from(high - low) + 1;
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % size,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..size {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % size;
        let port = low + offset as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("no free port on loopback in {low}..={high}"),
    ))
}

/// The ports to pick from, given where the ephemeral range starts: from
/// [`LOWEST`] to just below it, or, when it starts too low to leave room, the
/// top of the port space above the usual ranges.
fn range(ephemeral_low: u16) -> (u16, u16) {
    if ephemeral_low > LOWEST + 1_000 {
        (LOWEST, ephemeral_low - 1)
    } else {
        (61_000, 65_000)
    }
}

/// The first port of the kernel's ephemeral range (Linux's default when it
/// cannot be read).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, as the cursor is the process's: tests run in parallel.
    #[test]
    fn picks_below_the_ephemeral_range_never_twice_and_past_held_ports() {
        let low = ephemeral_low();
        let ports: Vec<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        assert!(ports.iter().all(|&p| p >= LOWEST && p < low));
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len());

        // Hold the port the cursor is at: the next pick must pass it.
        let (low, high) = range(low);
        let held = low + (NEXT.load(Ordering::Relaxed) % (u32::from(high - low) + 1)) as u16;
        let _listener = TcpListener::bind(("127.0.0.1", held)).unwrap();
        let next = free_port().unwrap();
        assert_ne!(next, held);
    }

    #[test]
    fn a_low_ephemeral_range_moves_the_picks_above_it() {
        assert_eq!(range(32_768), (20_000, 32_767));
        assert_eq!(range(1_024), (61_000, 65_000));
    }
}
