//! netkpi: an availability ledger and KPI exporter for a government WAN.
//!
//! # Layout
//!
//! Data flows one way:
//!
//! ```text
//! config ─► inventory ─► probes (icmp, snmp) ─► observations ─► ledger
//!                          ▲ scheduler: one loop      │ transitions + settled marks
//!                          │ for every prober         ▼
//!                                             store writer (durable first:
//!                                             transitions, tallies, heartbeat)
//!                                                     │ committed
//!                                                     ▼
//!                                       live view ─► metrics, http api
//! ```
//!
//! * [`config`] parses and validates the TOML file, reporting every problem
//!   with its file, line and column: `read` (TOML syntax, then each section
//!   through serde), `validate/` (one file per section, plus the SNMPv3
//!   users and the single-value checks they share) and [`config::builtin`]
//!   (defaults, bounds, and the one list of shipped SNMP profiles);
//!   `include` (TOML fragments a config names by glob) and `import`
//!   (`[[inventory]]`: devices and lines from CSV files) add entries to what
//!   `read` found, each file's spans kept apart so the one set of checks
//!   places every problem in its own file.
//! * [`loader`] reads the config together with the SNMP profiles it names
//!   (`netkpi check`, start and reload all go through it).
//! * [`inventory`] is the config in force as the daemon uses it, and
//!   [`inventory::timing`] the one place that maps a prober to its settings.
//! * [`scheduler`] runs one task per (device, SNMP prober): the schedule,
//!   timing, counting, publishing and sending live there once; a prober
//!   only says how to take a round ([`probes::Probe`]). ICMP rounds are
//!   taken by the ICMP engine's one task and published through the same
//!   [`scheduler::Sink`].
//! * [`probes`] ask the network; the words every prober shares
//!   ([`probes::Prober`], [`probes::Round`], the [`probes::Probe`] trait) are
//!   there, and [`probes::resolve`] keeps the devices' addresses.
//!   [`probes::icmp`]: one shared ICMP socket per address family and one
//!   engine task for every target (`schedule.rs` the pure timing wheel,
//!   pacing and rounds, `table.rs` the echoes in flight, `engine.rs` the
//!   I/O loop, `socket.rs` the kernel side with `sendmmsg`/`recvmmsg`,
//!   `packet.rs` the wire format, `probe.rs` a round as the ledger takes
//!   it). [`probes::snmp`]: the `client`, the `poller` (one device's
//!   poll), the `profile`s (parsed, then evaluated against what came back),
//!   the `traps` receiver (`datagram.rs` decodes, `routes` finds the sender's
//!   device), [`probes::snmp::ber`] (the one BER reader and encoder) and
//!   [`probes::snmp::oids`] (every OID the code names, each once). The
//!   `snmprec` recordings reader is compiled for tests only.
//! * [`ledger`] turns observations into transitions: it combines a
//!   device's probers, links a child's outage to its parent's by what
//!   happened, derives lines, and says how far each target's state is
//!   settled (the marks); [`ledger::resume`] closes the gap after a stop or
//!   crash. [`state`] is the pure per-target state machine it drives.
//! * [`tally`] is the durable count behind `netkpi_state_seconds_total`,
//!   advanced only by committed transitions and marks.
//! * [`alarms`] judges `[[alarm]]` thresholds on each SNMP round's samples
//!   (pure: fires after `hold`, clears likewise); the ledger task owns
//!   their state and sends what fired or cleared to the store writer with
//!   the transitions, where the incident engine opens an incident of the
//!   device for each alarm.
//! * [`energy`] meters each UPS's output power (read by the SNMP poll
//!   through its profile's `[energy]`) into kWh per device and local day
//!   (pure: trapezoid between polls, split at midnight); the ledger task
//!   owns the meters and hands the day totals to the store writer with its
//!   heartbeat marks, which upserts them (`Store::energy_days` reads them,
//!   [`energy::months`] sums them by calendar month for reports).
//! * [`incidents`] is the pure incident engine (open, restore, flap, root,
//!   acknowledgement rules, SLA judgement). The store writer runs it on
//!   every transition, so an incident commits with the transition that
//!   opens or closes it; [`incidents::board`] is the committed view the
//!   status page and the metrics read.
//! * [`availability`] is the pure period arithmetic every figure comes from;
//!   [`availability::period`] names the periods they are published for
//!   (rolling windows, the calendar year in the configured time zone), and
//!   [`availability::targets`] gives the figures of every configured target
//!   over a period from the store: the gauges, the API and reports all take
//!   them from there.
//! * [`report`] is the year-end report (or any period's): one model of
//!   `Serialize` structs ([`report::model`]) built from the store by
//!   [`report::Report::build`] through [`availability`] and the store's
//!   incident queries; [`report::form`] scores the evaluation form's
//!   `[[indicator]]` rows ([`config::report`]) and drafts the deviation
//!   analysis; [`report::i18n`] holds every label in English and Chinese;
//!   [`report::formats`] renders JSON, CSV, Markdown, XLSX and printable
//!   HTML. `netkpi report` and `GET /api/v1/report` both use it; the
//!   periods they take are read by [`availability::PeriodArgs`]. The daemon
//!   recomputes the form year to date ([`report::indicators`]) for the
//!   `netkpi_indicator_*` gauges.
//! * [`store`] is the embedded SQLite ledger behind one narrow interface, with
//!   a single writer thread that commits a transition before anyone sees it.
//!   A new ledger is created only where no file exists; [`store::backup()`]
//!   copies it consistently while the daemon runs (`netkpi backup`). Every
//!   record the figures come from is hash-chained in the transaction that
//!   writes it, and `netkpi verify` recomputes the chain.
//! * [`daemon`] wires the tasks together; at start it acquires every socket
//!   before it opens the store for writing, so a failed start changes
//!   nothing. [`metrics`] and [`http`] read (the only writes, an operator's
//!   acknowledgements and notes, go to the store writer as requests), and
//!   depend on nothing in the daemon (it imports them, never the reverse):
//!   * [`metrics::instruments`] is what the probing side records as it
//!     happens (a leaf on prometheus-client alone); [`metrics::collector`]
//!     renders the state-derived families at scrape time, one function per
//!     family group.
//!   * [`http`] holds the router and `/metrics`; [`http::Shared`] is the state
//!     its handlers read (the daemon fills it); [`http::api`] is the JSON API,
//!     each body a typed struct other outputs can reuse; the status page is
//!     beside it. [`mod@http::serve`] is the accept loop and its limits (a cap
//!     on connections that closes the oldest, header and request timeouts,
//!     a body limit), so `/healthz` and `/metrics` answer under a flood,
//!     and TLS when [`config::web`] (`daemon.web_config_file`) configures
//!     it; [`http::auth`] is basic auth for every path but `/healthz`.
//!     [`http::targets`] serves the filtered lists of devices and lines and
//!     one target's page (its transitions, its open incidents);
//!     [`http::incidents`] lists, shows, acknowledges and annotates
//!     incidents; [`client`] is `netkpi incident`, which talks to it. The
//!     OpenAPI document of all of it is `http/openapi.json`.
//!
//! Leaves, which the rest uses and which use nothing else in the crate:
//! [`secret`] (values that never print), [`diag`] (`FILE:LINE:COL`
//! diagnostics and the collector every check reports into), [`duration`],
//! [`model`], and [`snmp_security`] (the SNMP versions and USM protocol
//! names; it uses only `secret`). So [`config`] imports nothing from
//! [`probes`]; the probes take their settings from `config`.

pub mod alarms;
pub mod availability;
pub mod cli;
pub mod client;
pub mod config;
pub mod daemon;
pub mod diag;
pub mod duration;
pub mod energy;
pub mod http;
pub mod incidents;
pub mod inventory;
pub mod ledger;
pub mod live;
pub mod loader;
pub mod metrics;
pub mod model;
pub mod probes;
pub mod report;
pub mod scheduler;
pub mod secret;
pub mod snmp_security;
pub mod state;
pub mod store;
pub mod tally;
