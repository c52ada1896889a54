//! Polling one device over SNMP: what its profiles ask for (the plan), the
//! lookup columns kept between polls, and reboots seen in sysUpTime. The
//! scheduler times the polls; this module only knows how to take one.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use super::client::{Agent, Request, SnmpClient, SnmpError};
use super::oids::SYS_UPTIME;
use super::profile::{self, Part, Profile, Samples, Shape};
use super::{Oid, SnmpFailure, Value, Varbind};
use crate::config::SnmpSettings;
use crate::energy::{self, EnergySpec};
use crate::probes::resolve::Resolver;
use crate::probes::{Probe, Prober, Readings, Taken};

/// What a device's polls ask for: `values` every poll, `lookups` (row
/// names, aliases, sensor precision) only when the poller's cache of them is
/// missing, old or invalidated by a reboot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollPlan {
    pub values: Vec<Request>,
    pub lookups: Vec<Request>,
}

/// The plan for a device's profiles, without repeats: a subtree walked for
/// one profile is not walked again for another, and the scalars of all of
/// them go in one GET; a lookup column that is also a value is read with the
/// values.
pub fn poll_plan(profiles: &[Arc<Profile>]) -> PollPlan {
    let mut value_walks = BTreeSet::new();
    let mut value_gets = BTreeSet::from([Oid(SYS_UPTIME.to_vec())]);
    let mut lookup_walks = BTreeSet::new();
    let mut lookup_gets = BTreeSet::new();
    for p in profiles {
        let (w, g) = p.columns(Part::Values);
        value_walks.extend(w);
        value_gets.extend(g);
        let (w, g) = p.columns(Part::Lookups);
        lookup_walks.extend(w);
        lookup_gets.extend(g);
    }
    lookup_walks.retain(|l| !value_walks.iter().any(|v| l.starts_with(v)));
    lookup_gets
        .retain(|l| !value_gets.contains(l) && !value_walks.iter().any(|v| l.starts_with(v)));
    PollPlan {
        values: profile::plan(value_walks, value_gets),
        lookups: profile::plan(lookup_walks, lookup_gets),
    }
}

/// What the devices with one profile list poll: computed once per distinct
/// list and shared, not once per device.
#[derive(Debug)]
pub struct SnmpPlan {
    pub profiles: Vec<Arc<Profile>>,
    /// Read at every poll.
    pub values: Vec<Request>,
    /// Read when the device's lookup cache is missing, old or invalidated.
    pub lookups: Vec<Request>,
    /// `values` then `lookups`: a poll that refreshes the cache.
    pub with_lookups: Vec<Request>,
    /// Where the output power is: the `[energy]` of the first profile in
    /// the list that has one.
    pub energy: Option<EnergySpec>,
}

impl SnmpPlan {
    pub fn new(profiles: Vec<Arc<Profile>>) -> SnmpPlan {
        let plan = poll_plan(&profiles);
        let with_lookups = plan.values.iter().chain(&plan.lookups).cloned().collect();
        let energy = profiles.iter().find_map(|p| p.energy.clone());
        SnmpPlan {
            profiles,
            values: plan.values,
            lookups: plan.lookups,
            with_lookups,
            energy,
        }
    }
}

/// Lookup columns (names, aliases, precision) are read again after this many
/// polls, and at once after a reboot; in between each poll reads only the
/// values (for IF-MIB: 7 of 9 columns).
pub const LOOKUP_REFRESH_POLLS: u32 = 10;

/// The lookup answers of a device's last full poll, packed: each varbind as
/// the lookup request it answers (an index into [`lookup_roots`]), its arcs
/// after that root and its value, in a compact byte encoding (LEB128
/// numbers). A 24-port `if_mib` device keeps ~0.6 KB instead of the ~7 KB of
/// 48 owned [`Varbind`]s; [`LookupCache::restore`] gives the same varbinds
/// back, in the same order, for each poll that does not read them.
struct LookupCache {
    packed: Box<[u8]>,
    /// Polls made since they were read.
    polls: u32,
    /// sysUpTime at the last poll, in hundredths of a second.
    uptime: Option<u32>,
}

/// The OIDs that lookup requests are answered under: each walk's root, each
/// GET's instances.
fn lookup_roots(lookups: &[Request]) -> impl Iterator<Item = &Oid> {
    lookups.iter().flat_map(|r| match r {
        Request::Walk(root) => std::slice::from_ref(root),
        Request::Get(oids) => oids.as_slice(),
    })
}

impl LookupCache {
    /// Keeps the answers to `lookups` among `varbinds`.
    fn keep(varbinds: &[Varbind], lookups: &[Request], uptime: Option<u32>) -> LookupCache {
        let mut out = Vec::new();
        for vb in varbinds {
            let Some((root, arcs)) = lookup_roots(lookups)
                .enumerate()
                .find_map(|(i, root)| Some((i, vb.oid.suffix(root)?)))
            else {
                continue;
            };
            put(&mut out, root as u64);
            put_arcs(&mut out, arcs);
            put_value(&mut out, &vb.value);
        }
        LookupCache {
            packed: out.into_boxed_slice(),
            polls: 0,
            uptime,
        }
    }

    /// Appends the kept varbinds to `out`; `lookups` is the plan `keep` had.
    fn restore(&self, lookups: &[Request], out: &mut Vec<Varbind>) {
        let roots: Vec<&Oid> = lookup_roots(lookups).collect();
        let mut r = Reader(&self.packed);
        while !r.0.is_empty() {
            // Only a bug (another plan) makes this fail: keep what decoded.
            let Some(vb) = r.varbind(&roots) else {
                return;
            };
            out.push(vb);
        }
    }
}

/// Unsigned LEB128.
fn put(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_arcs(out: &mut Vec<u8>, arcs: &[u32]) {
    put(out, arcs.len() as u64);
    for &a in arcs {
        put(out, u64::from(a));
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Integer(v) => {
            out.push(0);
            put(out, ((v << 1) ^ (v >> 63)) as u64); // zigzag
        }
        Value::OctetString(b) => {
            out.push(1);
            put_bytes(out, b);
        }
        Value::ObjectId(oid) => {
            out.push(2);
            put_arcs(out, oid.arcs());
        }
        Value::IpAddress(ip) => {
            out.push(3);
            out.extend_from_slice(ip);
        }
        Value::Counter32(v) => {
            out.push(4);
            put(out, u64::from(*v));
        }
        Value::Gauge32(v) => {
            out.push(5);
            put(out, u64::from(*v));
        }
        Value::TimeTicks(v) => {
            out.push(6);
            put(out, u64::from(*v));
        }
        Value::Opaque(b) => {
            out.push(7);
            put_bytes(out, b);
        }
        Value::Counter64(v) => {
            out.push(8);
            put(out, *v);
        }
        Value::Null => out.push(9),
        Value::NoSuchObject => out.push(10),
        Value::NoSuchInstance => out.push(11),
        Value::EndOfMibView => out.push(12),
    }
}

/// Reads what [`LookupCache::keep`] wrote.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn uint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(n);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.uint()?).ok()
    }

    /// `prefix` then the arcs read.
    fn arcs(&mut self, prefix: &[u32]) -> Option<Vec<u32>> {
        let n = usize::try_from(self.uint()?).ok()?;
        let mut into = Vec::with_capacity(prefix.len() + n.min(self.0.len()));
        into.extend_from_slice(prefix);
        for _ in 0..n {
            into.push(self.u32()?);
        }
        Some(into)
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = usize::try_from(self.uint()?).ok()?;
        let bytes = self.0.get(..n)?.to_vec();
        self.0 = &self.0[n..];
        Some(bytes)
    }

    fn varbind(&mut self, roots: &[&Oid]) -> Option<Varbind> {
        let root = roots.get(usize::try_from(self.uint()?).ok()?)?;
        let oid = Oid(self.arcs(root.arcs())?);
        let value = match self.byte()? {
            0 => {
                let z = self.uint()?;
                Value::Integer((z >> 1) as i64 ^ -((z & 1) as i64))
            }
            1 => Value::OctetString(self.bytes()?),
            2 => Value::ObjectId(Oid(self.arcs(&[])?)),
            3 => {
                let ip = self.0.get(..4)?.try_into().ok()?;
                self.0 = &self.0[4..];
                Value::IpAddress(ip)
            }
            4 => Value::Counter32(self.u32()?),
            5 => Value::Gauge32(self.u32()?),
            6 => Value::TimeTicks(self.u32()?),
            7 => Value::Opaque(self.bytes()?),
            8 => Value::Counter64(self.uint()?),
            9 => Value::Null,
            10 => Value::NoSuchObject,
            11 => Value::NoSuchInstance,
            12 => Value::EndOfMibView,
            _ => return None,
        };
        Some(Varbind { oid, value })
    }
}

fn uptime_ticks(varbinds: &[Varbind]) -> Option<u32> {
    varbinds
        .iter()
        .find_map(|v| match (&v.value, v.oid.arcs() == SYS_UPTIME) {
            (Value::TimeTicks(t), true) => Some(*t),
            _ => None,
        })
}

/// ifName → ifOperStatus up, from the `if_mib` profile's samples.
fn oper_status_by_name(samples: &Samples) -> Vec<(String, bool)> {
    samples
        .iter()
        .filter(|s| s.name() == "netkpi_if_oper_up")
        .filter_map(|s| {
            let name = s.label("if_name")?;
            (!name.is_empty()).then(|| (name.to_string(), s.value == 1.0))
        })
        .collect()
}

/// What one poll read.
#[derive(Debug, Default)]
pub struct Polled {
    /// Why it failed; then `samples` is empty.
    pub failure: Option<SnmpFailure>,
    pub samples: Samples,
    /// sysUpTime went back since the previous poll.
    pub rebooted: bool,
}

impl Polled {
    /// ifName → ifOperStatus up, from the `if_mib` profile's samples.
    pub fn interfaces(&self) -> Vec<(String, bool)> {
        oper_status_by_name(&self.samples)
    }
}

/// One device's SNMP polling state: between polls it holds only its
/// resolver, the packed lookup cache and the shape of its last samples.
pub struct SnmpPoller<C> {
    address: String,
    settings: SnmpSettings,
    /// Shared by every device with the same profile list.
    plan: Arc<SnmpPlan>,
    client: Arc<C>,
    resolver: Resolver,
    lookups: Option<LookupCache>,
    /// The shape of the last samples read (shared with the round that has
    /// them), reused while the device's rows and metrics stay the same.
    shape: Option<Arc<Shape>>,
}

impl<C: SnmpClient> SnmpPoller<C> {
    pub fn new(
        address: String,
        settings: SnmpSettings,
        plan: Arc<SnmpPlan>,
        client: Arc<C>,
    ) -> SnmpPoller<C> {
        let resolver = Resolver::new(address.clone());
        SnmpPoller {
            address,
            settings,
            plan,
            client,
            resolver,
            lookups: None,
            shape: None,
        }
    }

    /// One poll: the values every time, the lookups every
    /// [`LOOKUP_REFRESH_POLLS`] polls and again at once after a reboot.
    pub async fn poll(&mut self) -> Polled {
        let plan = &*self.plan;
        let refresh = !plan.lookups.is_empty()
            && self
                .lookups
                .as_ref()
                .is_none_or(|c| c.polls >= LOOKUP_REFRESH_POLLS);
        let requests = if refresh {
            &plan.with_lookups
        } else {
            &plan.values
        };
        let Some(ip) = self.resolver.address().await else {
            let e = SnmpError {
                kind: SnmpFailure::ResolveError,
                detail: format!("cannot resolve {}", self.address),
            };
            return Polled {
                failure: Some(e.kind),
                ..Polled::default()
            };
        };
        let agent = Agent::new(SocketAddr::new(ip, self.settings.port), &self.settings);
        let mut varbinds = match self.client.poll(&agent, requests).await {
            Ok(varbinds) => varbinds,
            Err(e) => {
                return Polled {
                    failure: Some(e.kind),
                    ..Polled::default()
                }
            }
        };
        let uptime = uptime_ticks(&varbinds);
        let rebooted = self
            .lookups
            .as_ref()
            .and_then(|c| Some(uptime? < c.uptime?))
            .unwrap_or(false);
        if refresh {
            self.lookups = Some(LookupCache::keep(&varbinds, &plan.lookups, uptime));
        } else if rebooted && !plan.lookups.is_empty() {
            // Rows may be renumbered after a reboot: read the lookups again
            // before using them.
            self.lookups = match self.client.poll(&agent, &plan.lookups).await {
                Ok(fresh) => Some(LookupCache::keep(&fresh, &plan.lookups, uptime)),
                Err(_) => None,
            };
        } else if let Some(cache) = self.lookups.as_mut() {
            cache.polls += 1;
            cache.uptime = uptime.or(cache.uptime);
        }
        if !refresh {
            if let Some(cache) = self.lookups.as_ref() {
                cache.restore(&plan.lookups, &mut varbinds);
            }
        }
        let samples = plan
            .profiles
            .iter()
            .flat_map(|p| p.evaluate(&varbinds))
            .collect();
        let samples = Samples::pack(samples, self.shape.as_ref());
        self.shape = samples.shape().cloned();
        Polled {
            failure: None,
            samples,
            rebooted,
        }
    }
}

impl<C: SnmpClient> Probe for SnmpPoller<C> {
    const PROBER: Prober = Prober::Snmp;

    async fn take(&mut self) -> Taken {
        let polled = self.poll().await;
        let mut round = super::classify(polled.failure, polled.interfaces());
        round.power = self
            .plan
            .energy
            .as_ref()
            .and_then(|spec| energy::power(spec, &polled.samples));
        Taken {
            round,
            failure: polled.failure.map(|f| f.as_str()),
            readings: Readings {
                samples: polled.samples,
                rebooted: polled.rebooted,
                ..Readings::default()
            },
        }
    }
}

/// A fake agent for the tests of the poller and of the scheduler that runs
/// it.
#[cfg(test)]
pub(crate) mod fake {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::inventory::Inventory;

    /// An SNMP agent answering from a real device's recording (a Cisco
    /// Catalyst 3560), whose silence and sysUpTime a test controls.
    pub(crate) struct FakeAgent {
        recording: Mutex<Vec<Varbind>>,
        pub silent: AtomicBool,
        pub polls: AtomicU32,
    }

    impl FakeAgent {
        pub fn new() -> Arc<FakeAgent> {
            let text = std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/snmprec/cisco-c3560.snmprec"
            ))
            .expect("the recording");
            let recording = crate::probes::snmp::snmprec::parse(&text).expect("a valid recording");
            Arc::new(FakeAgent {
                recording: Mutex::new(recording),
                silent: AtomicBool::new(false),
                polls: AtomicU32::new(0),
            })
        }

        pub fn set_uptime(&self, ticks: u32) {
            let mut rec = self.recording.lock().unwrap();
            for vb in rec.iter_mut() {
                if vb.oid.arcs() == SYS_UPTIME {
                    vb.value = Value::TimeTicks(ticks);
                }
            }
        }
    }

    impl SnmpClient for FakeAgent {
        async fn poll(&self, _: &Agent, requests: &[Request]) -> Result<Vec<Varbind>, SnmpError> {
            self.polls.fetch_add(1, Ordering::Relaxed);
            if self.silent.load(Ordering::Relaxed) {
                return Err(SnmpError {
                    kind: SnmpFailure::Timeout,
                    detail: "no answer".into(),
                });
            }
            let rec = self.recording.lock().unwrap();
            Ok(crate::probes::snmp::profile::golden::answer(&rec, requests))
        }
    }

    const CONFIG: &str = r#"
[[device]]
name = "sw1"
role = "core_switch"
address = "127.0.0.1"
snmp = { interval = "1h", profiles = ["if_mib"] }
"#;

    /// A poller of device "sw1" (if_mib) through `agent`, and its inventory.
    pub(crate) fn poller(agent: &Arc<FakeAgent>) -> (SnmpPoller<FakeAgent>, Arc<Inventory>) {
        let config = crate::config::load_str(std::path::Path::new("t.toml"), CONFIG).unwrap();
        let inventory = Arc::new(Inventory::new(&config));
        let device = &inventory.devices[0];
        let settings = device.snmp.clone().unwrap();
        let profiles = crate::probes::snmp::profile::builtin()
            .into_iter()
            .filter(|p| p.name == "if_mib")
            .map(Arc::new)
            .collect();
        let poller = SnmpPoller::new(
            device.address.clone(),
            settings,
            Arc::new(SnmpPlan::new(profiles)),
            agent.clone(),
        );
        (poller, inventory)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::fake::{poller, FakeAgent};
    use super::*;
    use crate::state::RoundClass;

    /// The shipped profiles, selected by name as a device's config names them.
    struct Builtin(Vec<Arc<Profile>>);

    impl Builtin {
        fn select(&self, names: &[String]) -> Vec<Arc<Profile>> {
            names
                .iter()
                .filter_map(|n| self.0.iter().find(|p| p.name == *n).cloned())
                .collect()
        }
    }

    fn builtin_set() -> Builtin {
        Builtin(
            crate::probes::snmp::profile::builtin()
                .into_iter()
                .map(Arc::new)
                .collect(),
        )
    }

    fn walks(requests: &[Request]) -> Vec<Oid> {
        requests
            .iter()
            .filter_map(|r| match r {
                Request::Walk(root) => Some(root.clone()),
                Request::Get(_) => None,
            })
            .collect()
    }

    #[test]
    fn overlapping_profiles_ask_once() {
        let set = builtin_set();
        let twice = poll_plan(&set.select(&["if_mib".into(), "system".into(), "if_mib".into()]));
        let once = poll_plan(&set.select(&["if_mib".into(), "system".into()]));
        assert_eq!(twice, once);
        let all: Vec<Oid> = walks(&once.values)
            .into_iter()
            .chain(walks(&once.lookups))
            .collect();
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate() {
                assert!(i == j || !a.starts_with(b), "{a} is inside {b}");
            }
        }
    }

    #[test]
    fn interface_names_are_lookups_read_apart_from_the_counters() {
        let set = builtin_set();
        let plan = poll_plan(&set.select(&["if_mib".into()]));
        let if_name: Oid = "1.3.6.1.2.1.31.1.1.1.1".parse().unwrap();
        let oper: Oid = "1.3.6.1.2.1.2.2.1.8".parse().unwrap();
        assert!(walks(&plan.lookups).contains(&if_name), "{plan:?}");
        assert!(walks(&plan.values).contains(&oper), "{plan:?}");
        assert!(!walks(&plan.values).contains(&if_name), "{plan:?}");
        let uptime = Oid(SYS_UPTIME.to_vec());
        assert!(plan
            .values
            .iter()
            .any(|r| matches!(r, Request::Get(g) if g.contains(&uptime))));
    }

    #[tokio::test]
    async fn an_snmp_round_classifies_itself_and_reads_the_interfaces() {
        let agent = FakeAgent::new();
        let (mut probe, _) = poller(&agent);
        let Taken {
            round,
            failure,
            readings,
        } = probe.take().await;
        assert_eq!(
            (round.class, round.cause.as_deref(), failure),
            (RoundClass::Good, None, None)
        );
        let interfaces = round.interfaces.expect("if_mib read the interfaces");
        // As recorded: ifName.1 "Vl1" with ifOperStatus.1 down(2), ifName.2
        // "Vl2" with ifOperStatus.2 up(1).
        assert!(
            interfaces.contains(&("Vl1".to_string(), false)),
            "{interfaces:?}"
        );
        assert!(
            interfaces.contains(&("Vl2".to_string(), true)),
            "{interfaces:?}"
        );
        assert!(!readings.samples.is_empty());

        agent.silent.store(true, Ordering::Relaxed);
        let Taken {
            round,
            failure,
            readings,
        } = probe.take().await;
        assert_eq!(
            (round.class, round.cause.as_deref(), failure),
            (RoundClass::Failed, Some("snmp:timeout"), Some("timeout"))
        );
        assert_eq!(
            round.interfaces, None,
            "a failed poll says nothing of the interfaces"
        );
        assert!(readings.samples.is_empty());
    }

    #[tokio::test]
    async fn a_reboot_rereads_the_lookups_at_once() {
        let agent = FakeAgent::new();
        let (mut probe, _) = poller(&agent);
        agent.set_uptime(500_000);
        let first = probe.poll().await;
        let second = probe.poll().await;
        assert!(!first.rebooted && !second.rebooted);
        assert_eq!(
            agent.polls.load(Ordering::Relaxed),
            2,
            "one request set per poll"
        );
        let names = |p: &Polled| p.interfaces();
        assert_eq!(
            names(&first),
            names(&second),
            "lookups restored from the cache"
        );
        agent.set_uptime(100);
        let third = probe.poll().await;
        assert!(third.rebooted);
        assert_eq!(
            agent.polls.load(Ordering::Relaxed),
            4,
            "the lookups read again after the reboot"
        );
        assert_eq!(names(&third), names(&first));
    }

    #[test]
    fn the_lookup_cache_gives_back_the_lookup_varbinds_it_kept() {
        let oid = |s: &str| Oid(s.split('.').map(|a| a.parse().unwrap()).collect());
        let vb = |o: &str, value: Value| Varbind { oid: oid(o), value };
        let lookups = vec![
            Request::Walk(oid("1.3.6.1.2.1.31.1.1.1.1")),
            Request::Walk(oid("1.3.6.1.4.1.99.2")),
            Request::Get(vec![oid("1.3.6.1.4.1.99.7.0"), oid("1.3.6.1.4.1.99.8.0")]),
        ];
        let kept = vec![
            vb(
                "1.3.6.1.2.1.31.1.1.1.1.1",
                Value::OctetString(b"lo".to_vec()),
            ),
            vb(
                "1.3.6.1.2.1.31.1.1.1.1.4294967295",
                Value::OctetString(Vec::new()),
            ),
            vb("1.3.6.1.4.1.99.2.1.3.118.114.102", Value::Integer(i64::MIN)),
            vb("1.3.6.1.4.1.99.2.1.1", Value::Integer(-1)),
            vb("1.3.6.1.4.1.99.2.1.2", Value::Integer(i64::MAX)),
            vb(
                "1.3.6.1.4.1.99.2.2",
                Value::ObjectId(oid("1.3.6.1.4.1.9.1.2")),
            ),
            vb("1.3.6.1.4.1.99.2.3", Value::IpAddress([10, 0, 255, 1])),
            vb("1.3.6.1.4.1.99.2.4", Value::Counter32(u32::MAX)),
            vb("1.3.6.1.4.1.99.2.5", Value::Gauge32(7)),
            vb("1.3.6.1.4.1.99.2.6", Value::TimeTicks(123_456)),
            vb("1.3.6.1.4.1.99.2.7", Value::Opaque(vec![0, 0x9f, 0x78])),
            vb("1.3.6.1.4.1.99.2.8", Value::Counter64(u64::MAX)),
            vb("1.3.6.1.4.1.99.2.9", Value::Null),
            vb("1.3.6.1.4.1.99.7.0", Value::NoSuchObject),
            vb("1.3.6.1.4.1.99.8.0", Value::NoSuchInstance),
            vb("1.3.6.1.4.1.99.2.10", Value::EndOfMibView),
        ];
        // Values of the same poll, not lookups: not kept.
        let mut polled = vec![
            vb("1.3.6.1.2.1.1.3.0", Value::TimeTicks(5)),
            vb("1.3.6.1.2.1.2.2.1.8.1", Value::Integer(1)),
        ];
        polled.extend(kept.iter().cloned());
        polled.push(vb("1.3.6.1.4.1.99.3.1", Value::Integer(2)));
        let cache = LookupCache::keep(&polled, &lookups, Some(5));
        let mut out = vec![vb("1.3.6.1.2.1.2.2.1.8.1", Value::Integer(2))];
        cache.restore(&lookups, &mut out);
        assert_eq!(out[0], vb("1.3.6.1.2.1.2.2.1.8.1", Value::Integer(2)));
        assert_eq!(out[1..], kept[..]);
        assert!(cache.packed.len() < 200, "{} bytes", cache.packed.len());

        let empty = LookupCache::keep(&[], &lookups, None);
        let mut out = Vec::new();
        empty.restore(&lookups, &mut out);
        assert!(out.is_empty());
    }
}
