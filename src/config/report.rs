//! What the year-end report is judged against: the rows of the evaluation
//! form (`[[indicator]]`, in the config or in `[report] indicators_file`)
//! and the values entered by hand for its "manual" rows
//! (`[report] manual_file`).
//!
//! Only the shape is here; `validate/indicators.rs` reads and checks it, and
//! `crate::report` computes each row's figure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

/// `[report]` and the indicators and manual values it names, resolved.
#[derive(Clone, Debug, Default)]
pub struct ReportSettings {
    /// The rows of the evaluation form, in file order.
    pub indicators: Vec<Indicator>,
    /// What the weights must add up to (`[report] total_weight`, default 100).
    pub total_weight: f64,
    /// `[report] manual_file`, resolved against the config's directory.
    pub manual_file: Option<PathBuf>,
    /// Its values by indicator id.
    pub manual: BTreeMap<String, ManualValue>,
}

/// A label in both languages of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    pub zh: String,
    pub en: String,
}

/// One row of the evaluation form.
#[derive(Clone, Debug, PartialEq)]
pub struct Indicator {
    /// Stable English snake_case id (given, or derived from `name.en`).
    pub id: String,
    pub level1: Label,
    pub level2: Label,
    pub name: Label,
    pub source: Source,
    /// In the source's unit (see [`Source::unit`]); a ratio is 0..1.
    pub target: f64,
    pub weight: f64,
    pub score: ScoreRule,
    pub direction: Direction,
    /// Display unit of a manual row (e.g. "%"); measured rows have their own.
    pub unit: Option<String>,
}

/// Whether more is better (lines in service) or less (time to restore).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Higher,
    Lower,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Higher => "higher",
            Direction::Lower => "lower",
        }
    }

    /// Whether `actual` reaches `target` in this direction.
    pub fn reaches(self, actual: f64, target: f64) -> bool {
        match self {
            Direction::Higher => actual >= target,
            Direction::Lower => actual <= target,
        }
    }
}

/// How a row's figure becomes its score (out of its weight).
#[derive(Clone, Debug, PartialEq)]
pub enum ScoreRule {
    /// Full weight at or beyond the target, falling linearly to 0 at
    /// `floor` (for lower-is-better rows the floor lies above the target).
    Linear { floor: f64 },
    /// Full weight at or beyond the target, else 0.
    Threshold,
    /// The score of the best step reached, else 0; sorted best first.
    Steps(Vec<Step>),
}

impl ScoreRule {
    pub fn name(&self) -> &'static str {
        match self {
            ScoreRule::Linear { .. } => "linear",
            ScoreRule::Threshold => "threshold",
            ScoreRule::Steps(_) => "steps",
        }
    }
}

/// One step: reaching `at` earns `score` points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    pub at: f64,
    pub score: f64,
}

/// A value entered by hand for a "manual" row.
#[derive(Clone, Debug, PartialEq)]
pub struct ManualValue {
    pub value: f64,
    /// Where it comes from (a document, a survey), shown beside it.
    pub note: Option<String>,
}

/// Device categories of the quantity and availability figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// router, core_switch, aggregation_switch, firewall, ips, load_balancer.
    Core,
    /// access_egress.
    Access,
}

impl Category {
    pub const ALL: [Category; 2] = [Category::Core, Category::Access];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Core => "core",
            Category::Access => "access",
        }
    }

    /// The category of a device role; `None` for the machine room's
    /// equipment and `other`, which no quantity row counts.
    pub fn of(role: super::Role) -> Option<Category> {
        if role.is_core() {
            Some(Category::Core)
        } else if role == super::Role::AccessEgress {
            Some(Category::Access)
        } else {
            None
        }
    }
}

/// Which targets an availability or coverage figure pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every device and line.
    All,
    Devices(Category),
    Lines,
}

/// Where a row's actual value comes from: a figure measured from the store
/// and the inventory, or the manual-entries file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Devices of a category (all core and access when `None`) observed
    /// during the period.
    DevicesMonitored(Option<Category>),
    /// `[planned]` core_devices / access_devices (their sum when `None`).
    DevicesPlanned(Option<Category>),
    /// Lines observed during the period.
    LinesMonitored,
    /// `[planned] leased_lines`.
    LinesPlanned,
    /// Distinct sites of the core devices observed during the period.
    CoreRooms,
    /// Pooled (up + degraded) / (up + degraded + down) over the scope, 7×24.
    Availability(Scope),
    /// Pooled (up + degraded + down) / (period − maintenance) over the scope.
    Coverage(Scope),
    /// Lines whose availability met their target ÷ lines planned.
    UnitsConnected,
    /// Incidents opened in the period, planned ones excluded.
    Faults,
    /// Share of the judged incidents that met the response deadline.
    AcknowledgedWithinShare,
    /// Share of the judged incidents that met the restore deadline.
    RestoredWithinShare,
    TimeToRespond(Statistic),
    TimeToRestore(Statistic),
    /// Energy used in the period (not recorded yet: no data).
    EnergyKwh,
    /// Entered by hand in the manual-entries file.
    Manual,
}

/// A statistic over incidents' durations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic {
    Mean,
    Median,
    P95,
}

/// The unit a source's value is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Count,
    /// 0..1 (shown as a percentage).
    Ratio,
    Seconds,
    Kwh,
    /// A manual row's own unit.
    Manual,
}

impl Source {
    /// Every source name the config accepts, with what it is.
    pub const NAMES: [(&'static str, Source); 29] = [
        ("devices_monitored", Source::DevicesMonitored(None)),
        (
            "devices_monitored.core",
            Source::DevicesMonitored(Some(Category::Core)),
        ),
        (
            "devices_monitored.access",
            Source::DevicesMonitored(Some(Category::Access)),
        ),
        ("devices_planned", Source::DevicesPlanned(None)),
        (
            "devices_planned.core",
            Source::DevicesPlanned(Some(Category::Core)),
        ),
        (
            "devices_planned.access",
            Source::DevicesPlanned(Some(Category::Access)),
        ),
        ("lines_monitored", Source::LinesMonitored),
        ("lines_planned", Source::LinesPlanned),
        ("core_rooms", Source::CoreRooms),
        ("availability", Source::Availability(Scope::All)),
        (
            "availability.core",
            Source::Availability(Scope::Devices(Category::Core)),
        ),
        (
            "availability.access",
            Source::Availability(Scope::Devices(Category::Access)),
        ),
        ("availability.lines", Source::Availability(Scope::Lines)),
        ("coverage", Source::Coverage(Scope::All)),
        (
            "coverage.core",
            Source::Coverage(Scope::Devices(Category::Core)),
        ),
        (
            "coverage.access",
            Source::Coverage(Scope::Devices(Category::Access)),
        ),
        ("coverage.lines", Source::Coverage(Scope::Lines)),
        ("units_connected", Source::UnitsConnected),
        ("faults", Source::Faults),
        ("acknowledged_within_share", Source::AcknowledgedWithinShare),
        ("restored_within_share", Source::RestoredWithinShare),
        (
            "mean_time_to_respond",
            Source::TimeToRespond(Statistic::Mean),
        ),
        (
            "median_time_to_respond",
            Source::TimeToRespond(Statistic::Median),
        ),
        ("p95_time_to_respond", Source::TimeToRespond(Statistic::P95)),
        (
            "mean_time_to_restore",
            Source::TimeToRestore(Statistic::Mean),
        ),
        (
            "median_time_to_restore",
            Source::TimeToRestore(Statistic::Median),
        ),
        ("p95_time_to_restore", Source::TimeToRestore(Statistic::P95)),
        ("energy_kwh", Source::EnergyKwh),
        ("manual", Source::Manual),
    ];

    pub fn parse(name: &str) -> Option<Source> {
        Source::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }

    /// The source's name in [`Source::NAMES`].
    pub fn name(self) -> &'static str {
        Source::NAMES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("manual", |(n, _)| n)
    }

    pub fn unit(self) -> Unit {
        match self {
            Source::DevicesMonitored(_)
            | Source::DevicesPlanned(_)
            | Source::LinesMonitored
            | Source::LinesPlanned
            | Source::CoreRooms
            | Source::Faults => Unit::Count,
            Source::Availability(_)
            | Source::Coverage(_)
            | Source::UnitsConnected
            | Source::AcknowledgedWithinShare
            | Source::RestoredWithinShare => Unit::Ratio,
            Source::TimeToRespond(_) | Source::TimeToRestore(_) => Unit::Seconds,
            Source::EnergyKwh => Unit::Kwh,
            Source::Manual => Unit::Manual,
        }
    }

    /// The direction a row takes when it does not say: less is better for
    /// faults, times and energy.
    pub fn default_direction(self) -> Direction {
        match self {
            Source::Faults
            | Source::TimeToRespond(_)
            | Source::TimeToRestore(_)
            | Source::EnergyKwh => Direction::Lower,
            _ => Direction::Higher,
        }
    }
}
