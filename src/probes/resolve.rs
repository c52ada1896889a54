//! Device addresses: literals once, DNS names at start and every
//! [`RESOLVE_EVERY`], keeping the last good address when a lookup fails (a
//! DNS hiccup is not an outage of the device). Shared by every prober.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

/// How often a DNS name is looked up again (addresses of member-unit
/// equipment change rarely, but they do change).
pub const RESOLVE_EVERY: Duration = Duration::from_secs(300);

/// Resolves a device address: literals once, DNS names at start and every
/// [`RESOLVE_EVERY`], keeping the last good address when a lookup fails (a
/// DNS hiccup is not an outage of the device).
pub struct Resolver {
    name: String,
    literal: Option<IpAddr>,
    cached: Option<(IpAddr, Instant)>,
    failing: bool,
}

impl Resolver {
    pub fn new(name: String) -> Resolver {
        let literal = name.parse().ok();
        Resolver {
            name,
            literal,
            cached: None,
            failing: false,
        }
    }

    pub async fn address(&mut self) -> Option<IpAddr> {
        if let Some(addr) = self.literal {
            return Some(addr);
        }
        if let Some((addr, at)) = self.cached {
            if at.elapsed() < RESOLVE_EVERY {
                return Some(addr);
            }
        }
        match tokio::net::lookup_host((self.name.as_str(), 0)).await {
            Ok(mut addrs) => {
                if let Some(sa) = addrs.next() {
                    if self.failing {
                        tracing::info!(host = %self.name, address = %sa.ip(), "name resolves again");
                    }
                    self.failing = false;
                    self.cached = Some((sa.ip(), Instant::now()));
                    return Some(sa.ip());
                }
            }
            Err(err) => {
                if !self.failing {
                    tracing::warn!(host = %self.name, error = %err, "cannot resolve device address");
                }
            }
        }
        self.failing = true;
        self.cached.map(|(addr, _)| addr)
    }
}
