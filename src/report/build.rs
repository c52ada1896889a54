//! [`Report::build`]: the report's figures read from the store.
//!
//! Every availability figure comes from [`availability::availability`]
//! (the one definition, [`availability::compute`]); groups pool those with
//! [`Figures::pooled`]. Incidents come from the store's incident queries,
//! the chain head from [`Store::ledger_head`], energy from
//! [`Store::energy_days`]. Windows declared through the
//! API count like the config's, as they do for the daemon.

use std::collections::BTreeSet;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::form::{self, Facts};
use super::i18n::Lang;
use super::model::{
    DeviceRow, Energy, EnergyMonth, LedgerInfo, LineRow, Method, MonthColumn, Monthly, MonthlyRow,
    PeriodInfo, Report, WindowRow,
};
use super::{definitions, Progress};
use crate::availability::{self, Figures, Period, TargetFigures};
use crate::config::report::{Category, Scope};
use crate::config::{Config, Role};
use crate::http::incidents::IncidentEntry;
use crate::incidents::Incident;
use crate::inventory::Inventory;
use crate::model::{format_time, TargetKind};
use crate::store::{IncidentQuery, Store, StoreError, Window};

impl Report {
    /// The report of `period` as the store holds it at `now`, with labels
    /// of drafted text in `lang`. `store` may be a reader
    /// ([`Store::open_reader`], while the daemon runs) or a backup copy
    /// ([`Store::open_file_reader`]); everything is read from one snapshot
    /// ([`Store::snapshot`]), so the chain head named is the one the figures
    /// come from. The period's end is cut to `now`: what has not happened
    /// yet is not reported.
    pub fn build(
        store: &Store,
        config: &Config,
        period: &Period,
        now: Timestamp,
        lang: Lang,
        progress: &mut dyn Progress,
    ) -> Result<Report, StoreError> {
        store.snapshot(|store| build(store, config, period, now, lang, progress))
    }
}

fn build(
    store: &Store,
    config: &Config,
    period: &Period,
    now: Timestamp,
    lang: Lang,
    progress: &mut dyn Progress,
) -> Result<Report, StoreError> {
    let tz = &config.daemon.timezone;
    let from = period.from;
    let to = period.to.min(now).max(from);
    let cut = Period {
        to,
        ..period.clone()
    };

    progress.step(lang.t("progress.read"));
    let windows = store.windows()?;
    let mut inventory = Inventory::new(config);
    inventory.add_windows(
        &windows
            .iter()
            .map(Window::as_maintenance)
            .collect::<Vec<_>>(),
    );
    // The whole period and each month, from one read of the ledger.
    let months = cut.months(tz);
    let periods: Vec<(Timestamp, Timestamp)> = std::iter::once((from, to))
        .chain(months.iter().map(|(_, a, b)| (*a, *b)))
        .collect();
    let mut figures = Vec::new();
    let mut per_month: Vec<Vec<TargetFigures>> = vec![Vec::new(); months.len()];
    for t in availability::availability_each(store, &inventory, &periods, now)? {
        let mut each = t.figures.into_iter();
        let whole = each.next().unwrap_or_default();
        for (m, f) in per_month.iter_mut().zip(each) {
            m.push(TargetFigures {
                kind: t.kind,
                target: t.target.clone(),
                figures: f,
            });
        }
        figures.push(TargetFigures {
            kind: t.kind,
            target: t.target,
            figures: whole,
        });
    }

    progress.step(lang.t("progress.incidents"));
    let mut incidents = store.incidents(&IncidentQuery {
        from: Some(from),
        to: Some(to),
        limit: usize::MAX,
        ..IncidentQuery::default()
    })?;
    incidents.reverse();

    let energy = energy(store, &months, tz)?;
    let head = store.ledger_head()?;
    let recorded = figures
        .iter()
        .any(|f| f.figures.up_s + f.figures.degraded_s + f.figures.down_s > 0.0);
    let notice = (!recorded && incidents.is_empty()).then(|| lang.t("notice.empty").to_string());

    let facts = Facts {
        lang,
        tz,
        inventory: &inventory,
        planned: &config.planned,
        figures: &figures,
        incidents: &incidents,
        from,
        to,
        now,
        manual: &config.report.manual,
        energy: energy.as_ref(),
    };
    let form = form::evaluate(&config.report, &facts);
    let monthly = monthly(&facts, &months, &per_month, tz);
    let incident_rows = incident_rows(store, incidents, now, tz)?;

    Ok(Report {
        lang: lang.as_str(),
        generated_at: format_time(now, tz),
        period: PeriodInfo {
            kind: period.kind.as_str(),
            label: period.label.clone(),
            from: format_time(from, tz),
            to: format_time(to, tz),
            scheduled_to: (period.to > to).then(|| format_time(period.to, tz)),
            timezone: config.daemon.timezone_name.clone(),
        },
        notice,
        form,
        lines: line_rows(&inventory, &figures),
        devices: device_rows(&inventory, &figures),
        monthly,
        incidents: incident_rows,
        maintenance: window_rows(config, &windows, from, to, tz),
        method: Method {
            timezone: config.daemon.timezone_name.clone(),
            from: format_time(from, tz),
            to: format_time(to, tz),
            definitions: definitions(lang),
            ledger: LedgerInfo {
                records: head.records,
                head: head.hex(),
                at: head.at.map(|t| format_time(t, tz)),
            },
        },
        energy,
    })
}

/// The UPS devices' energy per month of the period (`months` as the
/// monthly table cuts it, [`Period::months`]), from the daily totals in the
/// store; `None` when there are none. Coverage is over each month's part
/// of the period, for every device that recorded energy at some time in it.
pub(super) fn energy(
    store: &Store,
    months: &[(String, Timestamp, Timestamp)],
    tz: &TimeZone,
) -> Result<Option<Energy>, StoreError> {
    let (Some((_, first, _)), Some((_, _, last))) = (months.first(), months.last()) else {
        return Ok(None);
    };
    let day_of = |t: Timestamp| t.to_zoned_datetime(tz.clone()).date();
    // Whole days: the day `last` falls in counts when it has begun.
    let end = day_of(*last - SignedDuration::from_millis(1))
        .tomorrow()
        .unwrap_or(day_of(*last));
    let days = store.energy_days(day_of(*first), end)?;
    if days.is_empty() {
        return Ok(None);
    }
    let devices: Vec<String> = days
        .iter()
        .map(|d| d.device.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let started = |d: &crate::energy::EnergyDay| {
        d.day
            .to_zoned_datetime(tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(*first)
    };
    let span = |a: Timestamp, b: Timestamp| {
        b.duration_since(a).as_secs_f64().max(0.0) * devices.len() as f64
    };
    let mut covered_total = 0.0;
    let rows: Vec<EnergyMonth> = months
        .iter()
        .map(|(label, a, b)| {
            let of_month = days.iter().filter(|d| (*a..*b).contains(&started(d)));
            let (kwh, covered) =
                of_month.fold((0.0, 0.0), |(k, c), d| (k + d.kwh, c + d.covered_s));
            covered_total += covered;
            let span = span(*a, *b);
            EnergyMonth {
                label: label.clone(),
                kwh,
                coverage: (span > 0.0).then(|| (covered / span).clamp(0.0, 1.0)),
            }
        })
        .collect();
    let whole = span(*first, *last);
    Ok(Some(Energy {
        total_kwh: rows.iter().map(|m| m.kwh).sum(),
        coverage: (whole > 0.0).then(|| (covered_total / whole).clamp(0.0, 1.0)),
        apparent: days.iter().any(|d| d.apparent_s > 0.0),
        devices,
        months: rows,
    }))
}

/// Whether availability reached `target`; `None` when nothing was observed.
fn met(f: &Figures, target: f64) -> Option<bool> {
    f.availability.map(|a| a >= target)
}

fn line_rows(inventory: &Inventory, figures: &[TargetFigures]) -> Vec<LineRow> {
    figures
        .iter()
        .filter(|f| f.kind == TargetKind::Line)
        .filter_map(|f| {
            let line = inventory.line(&f.target)?;
            let target = inventory
                .sla_of(TargetKind::Line, &f.target)
                .availability_target;
            Some(LineRow {
                id: line.id.clone(),
                unit: line.unit.clone(),
                carrier: line.carrier.clone(),
                bandwidth: line.bandwidth.clone(),
                device: line.device.clone(),
                availability_target: target,
                met_target: met(&f.figures, target),
                figures: f.figures.clone(),
            })
        })
        .collect()
}

/// Devices by role (in [`Role::ALL`]'s order), then in config order.
fn device_rows(inventory: &Inventory, figures: &[TargetFigures]) -> Vec<DeviceRow> {
    let mut rows: Vec<(usize, DeviceRow)> = figures
        .iter()
        .filter(|f| f.kind == TargetKind::Device)
        .filter_map(|f| {
            let d = inventory.device(&f.target)?;
            let target = inventory
                .sla_of(TargetKind::Device, &f.target)
                .availability_target;
            let order = Role::ALL.iter().position(|r| *r == d.role).unwrap_or(0);
            Some((
                order,
                DeviceRow {
                    name: d.name.clone(),
                    role: d.role.as_str(),
                    category: Category::of(d.role).map(Category::as_str),
                    site: d.site.clone(),
                    availability_target: target,
                    met_target: met(&f.figures, target),
                    figures: f.figures.clone(),
                },
            ))
        })
        .collect();
    rows.sort_by_key(|(order, _)| *order);
    rows.into_iter().map(|(_, r)| r).collect()
}

/// Each target's months, then the pooled groups (all, core, access, lines).
fn monthly(
    facts: &Facts<'_>,
    months: &[(String, Timestamp, Timestamp)],
    per_month: &[Vec<TargetFigures>],
    tz: &jiff::tz::TimeZone,
) -> Monthly {
    let mut rows: Vec<MonthlyRow> = facts
        .figures
        .iter()
        .enumerate()
        .map(|(i, f)| MonthlyRow {
            target: f.target.clone(),
            kind: f.kind.as_str(),
            months: per_month.iter().map(|m| m[i].figures.clone()).collect(),
            total: f.figures.clone(),
        })
        .collect();
    let groups = [
        ("all", Scope::All),
        ("core", Scope::Devices(Category::Core)),
        ("access", Scope::Devices(Category::Access)),
        ("lines", Scope::Lines),
    ];
    for (name, scope) in groups {
        let pool = |figs: &[TargetFigures]| {
            let month_facts = Facts {
                figures: figs,
                ..*facts
            };
            Figures::pooled(form::scoped(&month_facts, scope).map(|f| &f.figures))
        };
        rows.push(MonthlyRow {
            target: name.to_string(),
            kind: "group",
            months: per_month.iter().map(|m| pool(m)).collect(),
            total: pool(facts.figures),
        });
    }
    Monthly {
        months: months
            .iter()
            .map(|(label, from, to)| MonthColumn {
                label: label.clone(),
                from: format_time(*from, tz),
                to: format_time(*to, tz),
            })
            .collect(),
        rows,
    }
}

/// The table's rows of `incidents` (oldest first), built a chunk at a
/// time: each chunk's records are read for it alone and the incidents are
/// given back as their rows are made, so a province's year (half a million
/// incidents) never holds its incidents, their records and their rows at
/// once.
fn incident_rows(
    store: &Store,
    mut incidents: Vec<Incident>,
    now: Timestamp,
    tz: &jiff::tz::TimeZone,
) -> Result<Vec<IncidentEntry>, StoreError> {
    const CHUNK: usize = 10_000;
    let mut rows = Vec::with_capacity(incidents.len());
    // Newest first, so that each chunk of the oldest is split off the end.
    incidents.reverse();
    while !incidents.is_empty() {
        let mut chunk = incidents.split_off(incidents.len().saturating_sub(CHUNK));
        incidents.shrink_to_fit();
        chunk.reverse();
        let ids: Vec<u64> = chunk.iter().map(|i| i.id).collect();
        let affected = store.affected(&ids)?;
        let (first, last) = (
            ids.iter().copied().min().unwrap_or(1),
            ids.iter().copied().max().unwrap_or(0),
        );
        let events = store.incident_events_between(first, last)?;
        rows.extend(chunk.iter().map(|i| {
            IncidentEntry::new(
                i,
                affected.get(&i.id).copied().unwrap_or_default(),
                events.get(&i.id).map(Vec::as_slice).unwrap_or(&[]),
                now,
                tz,
            )
        }));
    }
    Ok(rows)
}

/// The config's windows and the declared ones that overlap `[from, to)`,
/// in order of start.
fn window_rows(
    config: &Config,
    declared: &[Window],
    from: Timestamp,
    to: Timestamp,
    tz: &jiff::tz::TimeZone,
) -> Vec<WindowRow> {
    let overlaps = |start: Timestamp, end: Timestamp| start < to && end > from;
    let mut rows: Vec<(Timestamp, WindowRow)> = config
        .maintenance
        .iter()
        .filter(|m| overlaps(m.start, m.end))
        .map(|m| {
            (
                m.start,
                WindowRow {
                    origin: "config",
                    id: None,
                    targets: m.targets.clone(),
                    start: format_time(m.start, tz),
                    end: format_time(m.end, tz),
                    reason: m.reason.clone(),
                    declared_by: None,
                    declared_at: None,
                    reclassifies: false,
                },
            )
        })
        .collect();
    rows.extend(
        declared
            .iter()
            .filter(|w| overlaps(w.start, w.end))
            .map(|w| {
                (
                    w.start,
                    WindowRow {
                        origin: "declared",
                        id: Some(w.id),
                        targets: w.targets.clone(),
                        start: format_time(w.start, tz),
                        end: format_time(w.end, tz),
                        reason: w.reason.clone(),
                        declared_by: Some(w.by.clone()),
                        declared_at: Some(format_time(w.created, tz)),
                        reclassifies: w.reclassifies(),
                    },
                )
            }),
    );
    rows.sort_by_key(|(start, _)| *start);
    rows.into_iter().map(|(_, r)| r).collect()
}
