//! The report as data: one tree of plain structs, the same for the API's
//! JSON and for every format (CSV, Markdown, and the XLSX and HTML
//! renderers built on it). Field names are stable English snake_case; a
//! field may be added, never renamed.
//!
//! Times are RFC 3339 strings in the configured time zone, durations are
//! seconds, ratios are 0..1, absent values are `null`. Text drafted from
//! the data (the deviation analysis) is in the report's `lang`; every other
//! label is translated by the formats ([`super::i18n`]).

use serde::Serialize;

use crate::availability::Figures;
use crate::config::report::{Direction, Label, Unit};
use crate::http::incidents::IncidentEntry;

/// The year-end (or month, or any period's) report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The language of the drafted text: `zh` or `en`.
    pub lang: &'static str,
    pub generated_at: String,
    pub period: PeriodInfo,
    /// Set when the store holds nothing for the period (an empty or new
    /// store): every figure below is then unknown, not zero.
    pub notice: Option<String>,
    /// The evaluation form (绩效自评表), first.
    pub form: Form,
    pub lines: Vec<LineRow>,
    /// Devices grouped by role, in the order of the roles, then config.
    pub devices: Vec<DeviceRow>,
    pub monthly: Monthly,
    /// Incidents open at some time in the period, oldest first.
    pub incidents: Vec<IncidentEntry>,
    /// Maintenance windows overlapping the period, with who declared them,
    /// when and why (the reclassifications among them are marked).
    pub maintenance: Vec<WindowRow>,
    pub method: Method,
    /// Energy delivered by the UPS devices per month, from the daily kWh
    /// the daemon records; `None` when the store holds none for the period.
    pub energy: Option<Energy>,
}

/// The period the report covers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeriodInfo {
    /// `year`, `month` or `range`.
    pub kind: &'static str,
    /// `2020`, `2020-03`, or `2020-01-01 – 2020-02-15`.
    pub label: String,
    pub from: String,
    /// Exclusive; `now` when the calendar period has not ended yet.
    pub to: String,
    /// The calendar period's end when it is later than `to`.
    pub scheduled_to: Option<String>,
    pub timezone: String,
}

/// The evaluation form: its rows and the total.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Form {
    pub rows: Vec<FormRow>,
    /// What the weights add up to.
    pub total_weight: f64,
    pub total_score: f64,
}

/// One indicator: what it measures, its target, what was achieved and its
/// score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FormRow {
    pub id: String,
    pub level1: Label,
    pub level2: Label,
    pub name: Label,
    /// The measured figure (`availability.lines`) or `manual`.
    pub source: &'static str,
    pub unit: Unit,
    /// A manual row's own unit text.
    pub unit_text: Option<String>,
    pub direction: Direction,
    /// `linear`, `threshold` or `steps`.
    pub score_rule: &'static str,
    pub target: f64,
    /// `null` when there is no data (nothing observed, no manual value).
    pub actual: Option<f64>,
    /// What the actual value counts, e.g. "148 of 150 lines".
    pub basis: Option<String>,
    pub weight: f64,
    pub score: f64,
    /// `null` when there is no data.
    pub met: Option<bool>,
    /// For a row below target (or without data): why, drafted from the data.
    pub deviation: Option<String>,
}

/// A leased line's figures over the period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineRow {
    pub id: String,
    pub unit: String,
    pub carrier: String,
    pub bandwidth: Option<String>,
    /// The access device it ends on.
    pub device: String,
    pub availability_target: f64,
    /// Availability reached the target; `null` when nothing was observed.
    pub met_target: Option<bool>,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A device's figures over the period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceRow {
    pub name: String,
    pub role: &'static str,
    /// `core`, `access`, or `null` for the rest.
    pub category: Option<&'static str>,
    pub site: String,
    pub availability_target: f64,
    pub met_target: Option<bool>,
    #[serde(flatten)]
    pub figures: Figures,
}

/// Availability month by month: one column per calendar month of the
/// period (the first and last cut to the period).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Monthly {
    pub months: Vec<MonthColumn>,
    /// Every target, devices first, then the pooled groups.
    pub rows: Vec<MonthlyRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonthColumn {
    /// `2020-03`.
    pub label: String,
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonthlyRow {
    /// A device's name, a line's id, or a group: `all`, `core`, `access`,
    /// `lines`.
    pub target: String,
    /// `device`, `line` or `group`.
    pub kind: &'static str,
    /// One per month, in the order of `months`.
    pub months: Vec<Figures>,
    /// Over the whole period.
    pub total: Figures,
}

/// A maintenance window overlapping the period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowRow {
    /// `config` (a `[[maintenance]]` table) or `declared` (through the API,
    /// kept in the ledger).
    pub origin: &'static str,
    /// The ledger's id of a declared window.
    pub id: Option<u64>,
    pub targets: Vec<String>,
    pub start: String,
    pub end: String,
    pub reason: String,
    pub declared_by: Option<String>,
    pub declared_at: Option<String>,
    /// It started more than a minute before it was declared: it
    /// reclassified time already recorded.
    pub reclassifies: bool,
}

/// How the figures were computed, and from which ledger.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Method {
    pub timezone: String,
    pub from: String,
    pub to: String,
    /// Each figure's definition, keyed by its name (`availability`, ...).
    pub definitions: Vec<Definition>,
    pub ledger: LedgerInfo,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Definition {
    pub figure: &'static str,
    /// In the report's language.
    pub text: String,
}

/// The hash chain's head when the report was computed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LedgerInfo {
    pub records: u64,
    /// SHA-256, 64 hex digits.
    pub head: String,
    /// When the latest chained record was committed.
    pub at: Option<String>,
}

/// Energy per month (see [`Report::energy`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Energy {
    pub months: Vec<EnergyMonth>,
    pub total_kwh: f64,
    /// Covered seconds ÷ the period's seconds, over the UPS devices.
    pub coverage: Option<f64>,
    /// The UPS devices that recorded energy in the period.
    pub devices: Vec<String>,
    /// Whether part of the figure was integrated from volts × amperes
    /// (apparent power: kVAh, an upper bound of kWh).
    pub apparent: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnergyMonth {
    pub label: String,
    pub kwh: f64,
    /// Covered seconds ÷ the month's seconds, over the UPS devices.
    pub coverage: Option<f64>,
}
