//! netkpi: an availability ledger and KPI exporter for a government WAN.
//!
//! # Layout
//!
//! Data flows one way:
//!
//! ```text
//! config ─► inventory ─► probes (icmp) ─► observations ─► ledger (state machine)
//!                                                            │ transitions
//!                                                            ▼
//!                                             store writer (durable first)
//!                                                            │ committed
//!                                                            ▼
//!                                          live view ─► metrics, http api
//! ```
//!
//! * [`config`] parses and validates the TOML file, reporting every problem
//!   with its file, line and column.
//! * [`probes`] ask the network: one shared ICMP socket per address family.
//! * [`state`] is the pure per-target state machine.
//! * [`availability`] is the pure period arithmetic every figure comes from;
//!   [`availability::period`] names the periods they are published for
//!   (rolling windows, the calendar year in the configured time zone), and
//!   [`availability::targets`] gives the figures of every configured target
//!   over a period from the store: the gauges, the API and reports all take
//!   them from there.
//! * [`store`] is the embedded SQLite ledger behind one narrow interface, with
//!   a single writer thread that commits a transition before anyone sees it.
//!   A new ledger is created only where no file exists; [`store::backup()`]
//!   copies it consistently while the daemon runs (`netkpi backup`).
//! * [`daemon`] wires the tasks together; at start it acquires every socket
//!   before it opens the store for writing, so a failed start changes
//!   nothing. [`metrics`] and [`http`] only read, and depend on nothing in
//!   the daemon (it imports them, never the reverse):
//!   * [`metrics::instruments`] is what the probing side records as it
//!     happens (a leaf on prometheus-client alone); [`metrics::collector`]
//!     renders the state-derived families at scrape time, one function per
//!     family group.
//!   * [`http`] holds the router and `/metrics`; [`http::Shared`] is the state
//!     its handlers read (the daemon fills it); [`http::api`] is the JSON API,
//!     each body a typed struct other outputs can reuse; the status page is
//!     beside it. [`mod@http::serve`] is the accept loop and its limits (a cap
//!     on connections that closes the oldest, header and request timeouts,
//!     a body limit), so `/healthz` and `/metrics` answer under a flood.

pub mod availability;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod duration;
pub mod http;
pub mod inventory;
pub mod ledger;
pub mod live;
pub mod loader;
pub mod metrics;
pub mod model;
pub mod probes;
pub mod scheduler;
pub mod state;
pub mod store;
pub mod tally;
