//! Which device sent a trap, and what a trap does: it makes that device poll
//! at once, and the daemon hands it to the ledger task, where it may raise
//! or clear a trap alarm of the device (`[[alarm]] trap = ...`, see
//! [`crate::alarms`]). A trap never changes a target's state by itself (a
//! lost linkUp must not hold a line down forever); only the poll it
//! triggers does.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use tokio::sync::{mpsc, Notify};

use super::TrapEvent;

/// Device addresses to the device's name and its "poll now" trigger.
/// Replaced whole when a reload starts a new generation of pollers.
#[derive(Default)]
pub struct TrapRoutes {
    by_address: HashMap<IpAddr, (String, Arc<Notify>)>,
}

impl TrapRoutes {
    /// Routes traps from `address` to `device`, which polls when `poll_now`
    /// is notified.
    pub fn insert(&mut self, address: IpAddr, device: String, poll_now: Arc<Notify>) {
        self.by_address.insert(address, (device, poll_now));
    }

    /// The device that sent `event`: by its source address, or by the v1
    /// agent-addr of a trap relayed by another host; that device is told to
    /// poll now.
    pub fn route(&self, event: &TrapEvent) -> Option<String> {
        let by_source = self.by_address.get(&event.source.ip());
        let by_agent = event
            .agent_addr
            .and_then(|a| self.by_address.get(&IpAddr::V4(a)));
        by_source.or(by_agent).map(|(name, poll_now)| {
            poll_now.notify_one();
            name.clone()
        })
    }
}

/// Routes every received trap until the receiver stops, then hands it and
/// the device it came from (if any) to `record` (count it, keep it for the
/// API).
pub async fn route_traps(
    mut events: mpsc::Receiver<TrapEvent>,
    routes: Arc<RwLock<TrapRoutes>>,
    mut record: impl FnMut(Option<String>, &TrapEvent),
) {
    while let Some(event) = events.recv().await {
        let device = routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .route(&event);
        if device.is_none() {
            tracing::debug!(source = %event.source, kind = event.kind.as_str(), "trap from an address that is no polled device");
        }
        record(device, &event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::snmp::traps::{TrapKind, TrapVersion};
    use std::net::Ipv4Addr;

    fn event(source: &str, agent_addr: Option<Ipv4Addr>) -> TrapEvent {
        TrapEvent {
            received_at: jiff::Timestamp::UNIX_EPOCH,
            source: source.parse().unwrap(),
            agent_addr,
            version: TrapVersion::V1,
            inform: false,
            trap_oid: "1.3.6.1.6.3.1.1.5.3".parse().unwrap(),
            uptime: None,
            kind: TrapKind::LinkDown { if_index: Some(3) },
            varbinds: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_trap_is_routed_by_source_or_agent_addr_and_triggers_a_poll() {
        let mut routes = TrapRoutes::default();
        let (sw1, sw2) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        routes.insert("127.0.1.1".parse().unwrap(), "sw1".into(), sw1.clone());
        routes.insert("127.0.1.2".parse().unwrap(), "sw2".into(), sw2.clone());

        assert_eq!(
            routes.route(&event("127.0.1.1:50000", None)),
            Some("sw1".into())
        );
        // Relayed by another host: the v1 agent-addr names the device.
        let relayed = event("127.0.9.9:162", Some(Ipv4Addr::new(127, 0, 1, 2)));
        assert_eq!(routes.route(&relayed), Some("sw2".into()));
        assert_eq!(routes.route(&event("127.0.9.9:162", None)), None);
        // Each routed trap left its device a permit to poll now.
        let polled = |n: &Arc<Notify>| {
            let n = n.clone();
            async move {
                tokio::time::timeout(std::time::Duration::from_millis(100), n.notified())
                    .await
                    .is_ok()
            }
        };
        assert!(polled(&sw1).await && polled(&sw2).await);
        assert!(!polled(&sw1).await, "one trap, one poll");
    }

    #[tokio::test]
    async fn every_trap_is_recorded_with_its_device_or_none() {
        let mut routes = TrapRoutes::default();
        routes.insert(
            "127.0.1.1".parse().unwrap(),
            "sw1".into(),
            Arc::new(Notify::new()),
        );
        let (tx, rx) = mpsc::channel(4);
        tx.send(event("127.0.1.1:1", None)).await.unwrap();
        tx.send(event("127.0.7.7:1", None)).await.unwrap();
        drop(tx);
        let mut seen = Vec::new();
        route_traps(rx, Arc::new(RwLock::new(routes)), |device, e| {
            seen.push((device, e.source.to_string()))
        })
        .await;
        assert_eq!(
            seen,
            [
                (Some("sw1".to_string()), "127.0.1.1:1".to_string()),
                (None, "127.0.7.7:1".to_string())
            ]
        );
    }
}
