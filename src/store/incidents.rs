//! Incidents in the ledger: each [`Change`] is appended to `incident_events`
//! and folded into its row of `incidents` in the writer's transaction, and
//! read back by the API, the CLI and at start.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::types::ValueRef;
use rusqlite::{params, params_from_iter, OptionalExtension, Row, Transaction};

use super::chain::{self, bind, opt_int, opt_text, Appender, INCIDENTS, INCIDENT_EVENTS};
use super::figures::{self, Delta};
use super::{ms_ceil, ms_floor, Store, StoreError};
use crate::incidents::{Change, Incident};
use crate::model::{Severity, TargetKind};

/// The columns [`incident_from_row`] reads, in order.
pub(super) const COLUMNS: &str = "id, kind, target, severity, cause, opened_ms, acknowledged_ms,
     acknowledged_by, restored_ms, root_id, flaps, planned, respond_within_ms, restore_within_ms,
     alarm";

/// The text of the `opened` event of an incident opened inside a
/// maintenance window (planned from the start): what `netkpi verify` folds
/// the `planned` column from.
pub(super) const PLANNED_AT_OPENING: &str = "planned: opened inside a maintenance window";

/// One entry of an incident's record, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentEvent {
    pub at: Timestamp,
    /// opened, restored, reopened, relinked, acknowledged, note.
    pub event: String,
    pub by: Option<String>,
    pub text: Option<String>,
    pub root_id: Option<u64>,
    pub cause: Option<String>,
}

/// Which incidents a listing returns, newest (highest id) first.
/// The incidents that have one as their root: every one linked to it,
/// restored ones included (the reach of the outage, which stays after it),
/// and those of them still open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Affected {
    pub linked: u64,
    pub open: u64,
}

#[derive(Clone, Debug, Default)]
pub struct IncidentQuery {
    /// Only those not restored.
    pub open_only: bool,
    /// Only this target's (a device name or a line id).
    pub target: Option<String>,
    /// Only those open at some time in `[from, to)`.
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Only ids below this (the cursor of the previous page).
    pub before_id: Option<u64>,
    pub limit: usize,
}

/// Appends `changes` to the record (each event chained), updates each
/// incident's row and the incident figures.
pub(super) fn write_changes(
    tx: &Transaction,
    chain: &mut Appender,
    changes: &[Change],
) -> rusqlite::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(&INCIDENT_EVENTS.insert_sql(false))?;
    // incident, at_ms, event, by, text, root_id, cause: see `chain.rs`.
    let mut event = |chain: &mut Appender,
                     id: i64,
                     at: Timestamp,
                     event: &str,
                     by: Option<&str>,
                     text: Option<&str>,
                     root_id: Option<u64>,
                     cause: Option<&str>|
     -> rusqlite::Result<()> {
        let values = [
            ValueRef::Integer(id),
            ValueRef::Integer(ms_floor(at)),
            chain::text(event),
            opt_text(by),
            opt_text(text),
            opt_int(root_id.map(|r| r as i64)),
            opt_text(cause),
        ];
        insert.execute(params_from_iter(bind(&values)))?;
        chain.append(
            &INCIDENT_EVENTS,
            tx.last_insert_rowid(),
            &values,
            [].into_iter(),
        )
    };
    let mut figures = Delta::default();
    for change in changes {
        let id = change.id() as i64;
        let was_planned = match change {
            Change::Planned { .. } => figures::planned(tx, id)?,
            _ => false,
        };
        match change {
            Change::Opened(i) => {
                // kind, target, alarm, severity, opened_ms, respond_within_ms,
                // restore_within_ms: fixed from now on, and chained.
                let fixed = [
                    chain::text(i.kind.as_str()),
                    chain::text(&i.target),
                    opt_text(i.alarm.as_deref()),
                    chain::text(i.severity.as_str()),
                    ValueRef::Integer(ms_floor(i.opened_at)),
                    ValueRef::Integer(duration_ms(i.respond_within)),
                    ValueRef::Integer(duration_ms(i.restore_within)),
                ];
                let rest = [
                    opt_text(i.cause.as_deref()),
                    opt_int(i.acknowledged_at.map(ms_floor)),
                    opt_text(i.acknowledged_by.as_deref()),
                    opt_int(i.restored_at.map(ms_floor)),
                    opt_int(i.root_id.map(|r| r as i64)),
                    ValueRef::Integer(i64::from(i.flaps)),
                    ValueRef::Integer(i64::from(i.planned)),
                ];
                let row = ValueRef::Integer(id);
                tx.prepare_cached(&INCIDENTS.insert_sql_with(
                    true,
                    &[
                        "cause",
                        "acknowledged_ms",
                        "acknowledged_by",
                        "restored_ms",
                        "root_id",
                        "flaps",
                        "planned",
                    ],
                ))?
                .execute(params_from_iter(
                    bind(&[row]).chain(bind(&fixed)).chain(bind(&rest)),
                ))?;
                chain.append(&INCIDENTS, id, &fixed, [].into_iter())?;
                event(
                    chain,
                    id,
                    i.opened_at,
                    "opened",
                    None,
                    // Planned from the start is part of the record too.
                    i.planned.then_some(PLANNED_AT_OPENING),
                    i.root_id,
                    i.cause.as_deref(),
                )?;
            }
            Change::Restored { at, .. } => {
                tx.prepare_cached("UPDATE incidents SET restored_ms = ?2 WHERE id = ?1")?
                    .execute(params![id, ms_floor(*at)])?;
                event(chain, id, *at, "restored", None, None, None, None)?;
            }
            Change::Reopened { at, .. } => {
                tx.prepare_cached(
                    "UPDATE incidents SET restored_ms = NULL, flaps = flaps + 1 WHERE id = ?1",
                )?
                .execute(params![id])?;
                event(chain, id, *at, "reopened", None, None, None, None)?;
            }
            Change::Relinked {
                at, root_id, cause, ..
            } => {
                tx.prepare_cached("UPDATE incidents SET root_id = ?2, cause = ?3 WHERE id = ?1")?
                    .execute(params![id, root_id.map(|r| r as i64), cause])?;
                event(
                    chain,
                    id,
                    *at,
                    "relinked",
                    None,
                    None,
                    *root_id,
                    cause.as_deref(),
                )?;
            }
            Change::Acknowledged { at, by, via, .. } => {
                tx.prepare_cached(
                    "UPDATE incidents SET acknowledged_ms = ?2, acknowledged_by = ?3 WHERE id = ?1",
                )?
                .execute(params![id, ms_floor(*at), by])?;
                let via = via.map(|root| format!("with its root incident {root}"));
                event(
                    chain,
                    id,
                    *at,
                    "acknowledged",
                    Some(by),
                    via.as_deref(),
                    None,
                    None,
                )?;
            }
            Change::Planned {
                at,
                window,
                by,
                reason,
                ..
            } => {
                tx.prepare_cached("UPDATE incidents SET planned = 1 WHERE id = ?1")?
                    .execute(params![id])?;
                let text = format!("maintenance window {window}: {reason}");
                event(chain, id, *at, "planned", Some(by), Some(&text), None, None)?;
            }
            Change::Noted { at, by, text, .. } => {
                event(chain, id, *at, "note", Some(by), Some(text), None, None)?;
            }
        }
        figures::account(tx, change, was_planned, &mut figures)?;
    }
    figures.write(tx)
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// The incidents that can still change at `now`: open ones (an incident
    /// open at a crash is still open), and those restored less than
    /// `flap_window` ago.
    pub fn live_incidents(
        &self,
        now: Timestamp,
        flap_window: Duration,
    ) -> Result<Vec<Incident>, StoreError> {
        let since = ms_floor(now).saturating_sub(duration_ms(flap_window));
        self.query_incidents(
            &format!(
                "SELECT {COLUMNS} FROM incidents
                 WHERE restored_ms IS NULL OR restored_ms >= ?1 ORDER BY id"
            ),
            [since],
        )
    }

    /// The id the next incident gets: ids are never reused.
    pub fn next_incident_id(&self) -> Result<u64, StoreError> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(id) FROM incidents", [], |r| r.get(0))
            .map_err(self.err("read the incident ids"))?;
        Ok(max.map_or(1, |m| m as u64 + 1))
    }

    pub fn incident(&self, id: u64) -> Result<Option<Incident>, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        Ok(self
            .query_incidents(
                &format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"),
                [id],
            )?
            .pop())
    }

    /// Every incident, oldest first.
    pub fn all_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let mut out = Vec::new();
        self.each_incident(|i| out.push(i))?;
        Ok(out)
    }

    /// Hands every incident to `f`, oldest first, one at a time: the figures
    /// rebuilt from scratch (the check on the figures the store keeps) read
    /// years of incidents without holding them all.
    pub fn each_incident(&self, f: impl FnMut(Incident)) -> Result<(), StoreError> {
        self.for_each_incident(
            &format!("SELECT {COLUMNS} FROM incidents ORDER BY id"),
            [],
            f,
        )
    }

    /// A page of incidents, newest first.
    pub fn incidents(&self, q: &IncidentQuery) -> Result<Vec<Incident>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM incidents WHERE 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if q.open_only {
            sql.push_str(" AND restored_ms IS NULL");
        }
        if let Some(target) = &q.target {
            arg(&mut sql, " AND target = ?", target.clone().into());
        }
        if let Some(to) = q.to {
            arg(&mut sql, " AND opened_ms < ?", ms_ceil(to).into());
        }
        if let Some(from) = q.from {
            arg(
                &mut sql,
                " AND (restored_ms IS NULL OR restored_ms >= ?)",
                ms_floor(from).into(),
            );
        }
        if let Some(before) = q.before_id {
            let before = i64::try_from(before).unwrap_or(i64::MAX);
            arg(&mut sql, " AND id < ?", before.into());
        }
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        arg(&mut sql, " ORDER BY id DESC LIMIT ?", limit.into());
        self.query_incidents(&sql, rusqlite::params_from_iter(args))
    }

    /// For each of `ids`, how many incidents have it as their root, and
    /// how many of those are open (one query over their range, whatever
    /// their number).
    pub fn affected(&self, ids: &[u64]) -> Result<HashMap<u64, Affected>, StoreError> {
        let mut out: HashMap<u64, Affected> =
            ids.iter().map(|&id| (id, Affected::default())).collect();
        let (Some(&first), Some(&last)) = (ids.iter().min(), ids.iter().max()) else {
            return Ok(out);
        };
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT root_id, COUNT(*), COUNT(*) - COUNT(restored_ms) FROM incidents
                 WHERE root_id BETWEEN ?1 AND ?2 GROUP BY root_id",
            )
            .map_err(self.err("count affected incidents"))?;
        let rows = stmt
            .query_map([clamp(first), clamp(last)], |r| {
                let n = |i| r.get::<_, i64>(i).map(|v| v as u64);
                Ok((
                    n(0)?,
                    Affected {
                        linked: n(1)?,
                        open: n(2)?,
                    },
                ))
            })
            .map_err(self.err("count affected incidents"))?;
        for row in rows {
            let (root, n) = row.map_err(self.err("count affected incidents"))?;
            if let Some(count) = out.get_mut(&root) {
                *count = n;
            }
        }
        Ok(out)
    }

    /// The incidents whose root is `id`.
    pub fn incidents_behind(&self, id: u64) -> Result<Vec<Incident>, StoreError> {
        self.query_incidents(
            &format!("SELECT {COLUMNS} FROM incidents WHERE root_id = ?1 ORDER BY id"),
            [id as i64],
        )
    }

    /// An incident's record (notes included), oldest first.
    pub fn incident_events(&self, id: u64) -> Result<Vec<IncidentEvent>, StoreError> {
        let id = i64::try_from(id).unwrap_or(i64::MAX);
        Ok(self
            .events_between(id, id)?
            .remove(&(id as u64))
            .unwrap_or_default())
    }

    /// The records of the incidents with ids in `first..=last`, each oldest
    /// first, from one query (a report reads thousands).
    pub fn incident_events_between(
        &self,
        first: u64,
        last: u64,
    ) -> Result<HashMap<u64, Vec<IncidentEvent>>, StoreError> {
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.events_between(clamp(first), clamp(last))
    }

    fn events_between(
        &self,
        first: i64,
        last: i64,
    ) -> Result<HashMap<u64, Vec<IncidentEvent>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT incident, at_ms, event, by, text, root_id, cause FROM incident_events
                 WHERE incident BETWEEN ?1 AND ?2 ORDER BY id",
            )
            .map_err(self.err("read an incident's record"))?;
        let rows = stmt
            .query_map([first, last], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    IncidentEvent {
                        at: Timestamp::UNIX_EPOCH,
                        event: r.get(2)?,
                        by: r.get(3)?,
                        text: r.get(4)?,
                        root_id: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
                        cause: r.get(6)?,
                    },
                ))
            })
            .map_err(self.err("read an incident's record"))?;
        let mut out: HashMap<u64, Vec<IncidentEvent>> = HashMap::new();
        for row in rows {
            let (incident, at_ms, mut e) = row.map_err(self.err("read an incident's record"))?;
            e.at = self.timestamp(at_ms, "incident_events.at_ms")?;
            out.entry(incident as u64).or_default().push(e);
        }
        Ok(out)
    }

    /// Hands `f` every restoration (an incident may be restored more than
    /// once when it flaps), with the incident's kind, whether it is planned
    /// and its time to restore then: the restore histogram, rebuilt at
    /// start, one row at a time.
    pub fn each_restoration(
        &self,
        mut f: impl FnMut(TargetKind, bool, Duration),
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT i.kind, i.planned, e.at_ms - i.opened_ms FROM incident_events e
                 JOIN incidents i ON i.id = e.incident WHERE e.event = 'restored'",
            )
            .map_err(self.err("read restorations"))?;
        let mut rows = stmt.query([]).map_err(self.err("read restorations"))?;
        while let Some(row) = rows.next().map_err(self.err("read restorations"))? {
            let read = |r: &rusqlite::Row| -> rusqlite::Result<(String, bool, i64)> {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            };
            let (kind, planned, ms) = read(row).map_err(self.err("read restorations"))?;
            if let Some(kind) = TargetKind::parse(&kind) {
                f(kind, planned, Duration::from_millis(ms.max(0) as u64));
            }
        }
        Ok(())
    }

    pub(super) fn query_incidents<P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
    ) -> Result<Vec<Incident>, StoreError> {
        let mut out = Vec::new();
        self.for_each_incident(sql, params, |i| out.push(i))?;
        Ok(out)
    }

    fn for_each_incident<P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        mut f: impl FnMut(Incident),
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(self.err("prepare an incident query"))?;
        let rows = stmt
            .query_map(params, raw_incident)
            .map_err(self.err("query incidents"))?;
        for row in rows {
            let raw = row.map_err(self.err("read an incident"))?;
            f(self.incident_from(raw)?);
        }
        Ok(())
    }

    pub(super) fn incident_from(&self, r: RawIncident) -> Result<Incident, StoreError> {
        r.into_incident().map_err(|detail| StoreError::Corrupt {
            path: self.path.clone(),
            detail,
        })
    }

    /// Whether the incident exists at all (restored long ago included).
    pub fn incident_exists(&self, id: u64) -> Result<bool, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(false);
        };
        self.conn
            .query_row("SELECT 1 FROM incidents WHERE id = ?1", [id], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(self.err("look up an incident"))
    }
}

pub(super) struct RawIncident {
    id: i64,
    kind: String,
    target: String,
    severity: String,
    cause: Option<String>,
    opened_ms: i64,
    acknowledged_ms: Option<i64>,
    acknowledged_by: Option<String>,
    restored_ms: Option<i64>,
    root_id: Option<i64>,
    flaps: i64,
    planned: bool,
    respond_within_ms: i64,
    restore_within_ms: i64,
    alarm: Option<String>,
}

pub(super) fn raw_incident(r: &Row) -> rusqlite::Result<RawIncident> {
    Ok(RawIncident {
        id: r.get(0)?,
        kind: r.get(1)?,
        target: r.get(2)?,
        severity: r.get(3)?,
        cause: r.get(4)?,
        opened_ms: r.get(5)?,
        acknowledged_ms: r.get(6)?,
        acknowledged_by: r.get(7)?,
        restored_ms: r.get(8)?,
        root_id: r.get(9)?,
        flaps: r.get(10)?,
        planned: r.get(11)?,
        respond_within_ms: r.get(12)?,
        restore_within_ms: r.get(13)?,
        alarm: r.get(14)?,
    })
}

impl RawIncident {
    /// The incident the row holds; a word or time no reader knows is
    /// named, with the row.
    pub(super) fn into_incident(self) -> Result<Incident, String> {
        let r = self;
        let id = r.id;
        let corrupt = |detail: String| format!("incidents row {id}: {detail}");
        let ts = |ms: i64, column: &str| {
            Timestamp::from_millisecond(ms).map_err(|e| corrupt(format!("{column} {ms}: {e}")))
        };
        let opt_ts = |ms: Option<i64>, column| ms.map(|ms| ts(ms, column)).transpose();
        Ok(Incident {
            id: r.id as u64,
            kind: TargetKind::parse(&r.kind)
                .ok_or_else(|| corrupt(format!("unknown kind {:?}", r.kind)))?,
            target: r.target,
            alarm: r.alarm,
            severity: Severity::parse(&r.severity)
                .ok_or_else(|| corrupt(format!("unknown severity {:?}", r.severity)))?,
            cause: r.cause,
            opened_at: ts(r.opened_ms, "opened_ms")?,
            acknowledged_at: opt_ts(r.acknowledged_ms, "acknowledged_ms")?,
            acknowledged_by: r.acknowledged_by,
            restored_at: opt_ts(r.restored_ms, "restored_ms")?,
            root_id: r.root_id.map(|v| v as u64),
            flaps: u32::try_from(r.flaps).unwrap_or(u32::MAX),
            planned: r.planned,
            respond_within: Duration::from_millis(r.respond_within_ms.max(0) as u64),
            restore_within: Duration::from_millis(r.restore_within_ms.max(0) as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::{Incidents, Terms};
    use crate::model::{State, Transition};
    use crate::store::figures::tests::commit_transition;
    use crate::store::Commit;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + s).unwrap()
    }

    fn down(target: &str, kind: TargetKind, s: i64, cause: Option<&str>) -> Transition {
        Transition {
            target: target.into(),
            kind,
            at: ts(s),
            state: State::Down,
            cause: cause.map(Into::into),
        }
    }

    fn up(target: &str, kind: TargetKind, s: i64) -> Transition {
        Transition {
            state: State::Up,
            cause: None,
            ..down(target, kind, s, None)
        }
    }

    const TERMS: Terms = Terms {
        severity: Severity::Critical,
        respond_within: Duration::from_secs(1800),
        restore_within: Duration::from_secs(4 * 3600),
        planned: false,
    };

    /// Runs `transitions` through the engine, committing each with its
    /// changes, as the writer does.
    fn commit_all(store: &mut Store, engine: &mut Incidents, transitions: &[Transition]) {
        for t in transitions {
            commit_transition(store, engine, t, &TERMS);
        }
    }

    #[test]
    fn an_alarm_incident_keeps_its_alarm_and_resumes_apart_from_the_outage() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(tmp.path()).unwrap();
        let window = Duration::from_secs(600);
        let mut engine = Incidents::resume(Vec::new(), store.next_incident_id().unwrap(), window);
        let fired = crate::alarms::AlarmEvent {
            device: "ups-1".into(),
            alarm: "on-battery".into(),
            raised: true,
            at: ts(10),
            severity: None,
            condition: "netkpi_ups_on_battery == 1".into(),
        };
        let changes = engine.alarm(&fired, &TERMS);
        store
            .commit(&Commit {
                incidents: &changes,
                ..Commit::default()
            })
            .unwrap();
        commit_all(
            &mut store,
            &mut engine,
            &[down("ups-1", TargetKind::Device, 20, Some("icmp:timeout"))],
        );
        let alarm = store.incident(1).unwrap().unwrap();
        assert_eq!(alarm.alarm.as_deref(), Some("on-battery"));
        assert_eq!(alarm.cause.as_deref(), Some("netkpi_ups_on_battery == 1"));
        assert_eq!(store.incident(2).unwrap().unwrap().alarm, None);
        let live = store.live_incidents(ts(30), window).unwrap();
        let resumed = Incidents::resume(live, store.next_incident_id().unwrap(), window);
        assert_eq!(
            resumed.open_alarm("ups-1", "on-battery").map(|i| i.id),
            Some(1)
        );
        assert_eq!(
            resumed.open_of(TargetKind::Device, "ups-1").map(|i| i.id),
            Some(2)
        );
    }

    #[test]
    fn every_change_is_recorded_and_the_view_follows_it() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(tmp.path()).unwrap();
        let window = Duration::from_secs(600);
        let mut engine = Incidents::resume(Vec::new(), store.next_incident_id().unwrap(), window);
        let d = TargetKind::Device;
        commit_all(
            &mut store,
            &mut engine,
            &[
                down("core", d, 0, Some("icmp:timeout")),
                down("acc", d, 1, Some("parent:core")),
                down("L-1", TargetKind::Line, 1, Some("device:acc")),
            ],
        );
        let mut changes = engine.acknowledge(1, ts(60), "duty").unwrap();
        changes.push(Change::Noted {
            id: 1,
            at: ts(61),
            by: "duty".into(),
            text: "power cut in the core room".into(),
        });
        store
            .commit(&Commit {
                incidents: &changes,
                ..Commit::default()
            })
            .unwrap();
        commit_all(
            &mut store,
            &mut engine,
            &[
                up("core", d, 300),
                down("core", d, 400, None),
                up("core", d, 500),
            ],
        );

        let core = store.incident(1).unwrap().unwrap();
        assert_eq!(core, engine.live().find(|i| i.id == 1).unwrap().clone());
        assert_eq!(
            (
                core.flaps,
                core.acknowledged_by.as_deref(),
                core.restored_at
            ),
            (1, Some("duty"), Some(ts(500)))
        );
        assert_eq!(core.respond_within, Duration::from_secs(1800));
        let events: Vec<String> = store
            .incident_events(1)
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(
            events,
            // Down again with another cause: relinked as well as reopened.
            [
                "opened",
                "acknowledged",
                "note",
                "restored",
                "reopened",
                "relinked",
                "restored"
            ]
        );
        assert_eq!(
            store.affected(&[1, 2]).unwrap(),
            HashMap::from([
                // acc and L-1 are still open.
                (1, Affected { linked: 2, open: 2 }),
                (2, Affected::default())
            ])
        );
        assert_eq!(store.incidents_behind(1).unwrap().len(), 2);
        let mut restorations = 0;
        store.each_restoration(|_, _, _| restorations += 1).unwrap();
        assert_eq!(restorations, 2, "a flap restores twice");
        assert_eq!(store.next_incident_id().unwrap(), 4);

        // What a restart resumes from: the open ones and the core incident,
        // restored 100 s before, still inside its flap window.
        let live: Vec<u64> = store
            .live_incidents(ts(600), window)
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(live, [1, 2, 3]);
        let live = store.live_incidents(ts(1200), window).unwrap();
        assert_eq!(live.iter().map(|i| i.id).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn listings_are_newest_first_filtered_and_paged() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(tmp.path()).unwrap();
        let mut engine = Incidents::resume(Vec::new(), 1, Duration::from_secs(60));
        let d = TargetKind::Device;
        let mut ts_list = Vec::new();
        for n in 0..5 {
            let s = n * 1000;
            ts_list.push(down("a", d, s, None));
            if n < 4 {
                ts_list.push(up("a", d, s + 100));
            }
        }
        ts_list.push(down("b", d, 4500, None));
        commit_all(&mut store, &mut engine, &ts_list);
        let ids = |q: IncidentQuery| -> Vec<u64> {
            store.incidents(&q).unwrap().iter().map(|i| i.id).collect()
        };
        let all = IncidentQuery {
            limit: 100,
            ..Default::default()
        };
        assert_eq!(ids(all.clone()), [6, 5, 4, 3, 2, 1]);
        assert_eq!(
            ids(IncidentQuery {
                open_only: true,
                ..all.clone()
            }),
            [6, 5]
        );
        assert_eq!(
            ids(IncidentQuery {
                target: Some("a".into()),
                limit: 2,
                ..all.clone()
            }),
            [5, 4]
        );
        assert_eq!(
            ids(IncidentQuery {
                target: Some("a".into()),
                before_id: Some(4),
                limit: 2,
                ..all.clone()
            }),
            [3, 2]
        );
        // Open at some time in [1050, 2050): incident 2 (1000..1100) and 3
        // (2000..2100).
        assert_eq!(
            ids(IncidentQuery {
                from: Some(ts(1050)),
                to: Some(ts(2050)),
                ..all
            }),
            [3, 2]
        );
    }
}
