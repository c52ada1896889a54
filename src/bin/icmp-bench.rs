//! Load generator for the ICMP prober, used by `bench/icmp.sh` until the
//! daemon's scheduler exists: one task per target, each starting at a random
//! offset within the interval (as the scheduler's jitter will), running
//! `count` echoes per round until the duration is over. Prints one line of
//! `key=value` figures on stdout.
//!
//! Usage: `icmp-bench TARGETS_FILE [DURATION_S] [INTERVAL_S] [COUNT] [SPACING_MS] [TIMEOUT_MS]`

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use netkpi::probes::IcmpPinger;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

/// 8 MiB: room for 10,000 in-flight replies (about 768 bytes of kernel
/// memory each on loopback) with margin.
const RECV_BUFFER: usize = 8 << 20;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        return Err("usage: icmp-bench TARGETS_FILE [DURATION_S] [INTERVAL_S] [COUNT] [SPACING_MS] [TIMEOUT_MS]".into());
    };
    let duration = Duration::from_secs(arg(&args, 2, 60));
    let interval = Duration::from_secs(arg(&args, 3, 10));
    let count: u32 = arg(&args, 4, 3);
    let spacing = Duration::from_millis(arg(&args, 5, 1000));
    let timeout = Duration::from_millis(arg(&args, 6, 1000));
    let targets: Vec<IpAddr> = std::fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse())
        .collect::<Result<_, _>>()?;

    let cancel = CancellationToken::new();
    let pinger = IcmpPinger::open(RECV_BUFFER, cancel.clone())?;
    let start = Instant::now();
    let end = start + duration;
    let tasks: Vec<_> = targets
        .iter()
        .map(|&addr| {
            let pinger = Arc::clone(&pinger);
            let offset = interval.mul_f64(rand::random::<f64>());
            tokio::spawn(async move {
                let (mut sent, mut received) = (0u64, 0u64);
                let mut next = start + offset;
                while next < end {
                    sleep_until(next).await;
                    let r = pinger.round(addr, count, spacing, timeout).await;
                    sent += u64::from(r.sent);
                    received += u64::from(r.received);
                    next += interval;
                }
                (sent, received)
            })
        })
        .collect();
    let (mut sent, mut received) = (0u64, 0u64);
    for task in tasks {
        let (s, r) = task.await?;
        sent += s;
        received += r;
    }
    let wall = start.elapsed();
    cancel.cancel();
    pinger.closed().await;

    let stats = pinger.stats();
    let ignored: Vec<String> = stats
        .ignored()
        .iter()
        .map(|(k, v)| format!("ignored_{k}={v}"))
        .collect();
    println!(
        "targets={} wall_s={:.1} echoes_sent={sent} replies={received} lost={} send_errors={} socket_drops={} {}",
        targets.len(),
        wall.as_secs_f64(),
        sent - received,
        stats.send_errors.load(Ordering::Relaxed),
        stats.socket_drops.load(Ordering::Relaxed),
        ignored.join(" "),
    );
    Ok(())
}
