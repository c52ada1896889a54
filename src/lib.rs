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
//! * [`state`] is the pure per-target state machine; [`availability`] is the
//!   pure period arithmetic every figure comes from.
//! * [`store`] is the embedded SQLite ledger behind one narrow interface, with
//!   a single writer thread that commits a transition before anyone sees it.
//! * [`daemon`] wires the tasks together; [`metrics`] and [`http`] only read.

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
