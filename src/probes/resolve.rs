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

#[cfg(test)]
mod tests {
    use super::*;

    /// Marks the inner run and carries the host's network namespace, which
    /// the inner test must not be in.
    const RESOLVER_INNER_ENV: &str = "NETKPI_RESOLVER_TEST_OUTER_NETNS";
    /// The hosts file the outer test bind-mounts over /etc/hosts.
    const RESOLVER_HOSTS_ENV: &str = "NETKPI_RESOLVER_TEST_HOSTS";
    const TEST_NAME: &str = "netkpi-dns-check.test";

    fn netns() -> String {
        std::fs::read_link("/proc/self/ns/net")
            .expect("/proc/self/ns/net")
            .to_string_lossy()
            .into_owned()
    }

    /// README: a DNS name is "looked up at start and every 5 min; the last
    /// good address is kept while lookups fail". The lookups are real
    /// (`getaddrinfo`), answered from a hosts file this test rewrites, in a
    /// network namespace with no route anywhere, so a name missing from the
    /// file fails at once and no query leaves the machine.
    #[test]
    fn a_dns_name_keeps_its_last_good_address_while_lookups_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hosts = dir.path().join("hosts");
        std::fs::write(&hosts, "").expect("hosts file");
        let inner = format!(
            "{}::a_dns_name_inner",
            module_path!()
                .split_once("::")
                .map_or(module_path!(), |(_, m)| m)
        );
        let out = std::process::Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "sh",
                "-ec",
                r#"mount --bind "$NETKPI_RESOLVER_TEST_HOSTS" /etc/hosts; exec "$@""#,
                "sh",
            ])
            .arg(std::env::current_exe().expect("test binary path"))
            .args([
                "--exact",
                &inner,
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(RESOLVER_INNER_ENV, netns())
            .env(RESOLVER_HOSTS_ENV, &hosts)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("unshare (util-linux) is required; the test needs root");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.contains("test result: ok. 1 passed"),
            "{inner} failed or did not run in its namespace:\n{stdout}\n{stderr}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    #[ignore = "runs inside the namespace made by a_dns_name_keeps_its_last_good_address_while_lookups_fail"]
    async fn a_dns_name_inner() {
        let host = std::env::var(RESOLVER_INNER_ENV)
            .expect("inner test: run it through its outer test, which makes its namespaces");
        assert_ne!(netns(), host, "not in a private network namespace");
        let hosts = std::env::var(RESOLVER_HOSTS_ENV).expect("hosts file");
        // Written in place: /etc/hosts is a bind mount of this very file.
        let set_hosts = |text: &str| std::fs::write(&hosts, text).expect("rewrite hosts file");
        let resolves_now = || {
            std::net::ToSocketAddrs::to_socket_addrs(&(TEST_NAME, 0))
                .ok()
                .and_then(|mut a| a.next())
                .map(|a| a.ip())
        };
        let aged = |r: &mut Resolver| {
            let (addr, _) = r.cached.expect("a cached address");
            let past = Instant::now()
                .checked_sub(RESOLVE_EVERY + Duration::from_secs(1))
                .expect("the clock goes back 5 min");
            r.cached = Some((addr, past));
        };
        let a: IpAddr = "127.0.0.7".parse().unwrap();
        let b: IpAddr = "127.0.0.8".parse().unwrap();
        let c: IpAddr = "127.0.0.9".parse().unwrap();

        // A name that never resolved has no address.
        assert_eq!(resolves_now(), None);
        let mut never = Resolver::new(TEST_NAME.to_string());
        assert_eq!(never.address().await, None);
        assert!(never.failing);

        set_hosts(&format!("{a} {TEST_NAME}\n"));
        assert_eq!(resolves_now(), Some(a), "the bind mount is in force");
        let mut r = Resolver::new(TEST_NAME.to_string());
        assert_eq!(r.address().await, Some(a));

        // Within 5 minutes the name is not looked up again.
        set_hosts(&format!("{b} {TEST_NAME}\n"));
        assert_eq!(resolves_now(), Some(b));
        assert_eq!(r.address().await, Some(a));

        // 5 minutes later the lookup fails (gone from the file, no DNS
        // server reachable): the last good address stays.
        set_hosts("");
        assert_eq!(resolves_now(), None);
        aged(&mut r);
        assert_eq!(r.address().await, Some(a));
        assert!(r.failing);
        assert_eq!(r.address().await, Some(a), "still failing, still kept");

        // The name resolves again, to a new address: taken at once.
        set_hosts(&format!("{c} {TEST_NAME}\n"));
        assert_eq!(r.address().await, Some(c));
        assert!(!r.failing);
        // And kept for the next 5 minutes.
        set_hosts(&format!("{a} {TEST_NAME}\n"));
        assert_eq!(r.address().await, Some(c));
        aged(&mut r);
        assert_eq!(r.address().await, Some(a));
    }
}
