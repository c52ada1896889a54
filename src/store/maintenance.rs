//! Planned windows declared through the API, kept in the ledger with who
//! declared them, when and why (see the v4 schema).

use jiff::Timestamp;
use rusqlite::types::ValueRef;
use rusqlite::{params, params_from_iter, Transaction};

use super::chain::{bind, text, Appender, MAINTENANCE_WINDOWS};
use super::{ms_ceil, ms_floor, Store, StoreError};
use crate::config::Maintenance;
use crate::incidents::Incident;
use crate::model::TargetKind;

/// How far before its declaration a window must start to count as a
/// reclassification of recorded time.
pub const RECLASSIFY_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// A window an operator declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub id: u64,
    pub created: Timestamp,
    pub by: String,
    pub reason: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Device names and line ids as given (a device covers its lines).
    pub targets: Vec<String>,
}

impl Window {
    /// Whether it reclassifies time already recorded: it starts more than
    /// [`RECLASSIFY_AFTER`] before it was declared (a window "from now",
    /// typed a few seconds late, is not a reclassification).
    pub fn reclassifies(&self) -> bool {
        self.start < self.created - RECLASSIFY_AFTER
    }

    /// The window as the inventory takes it.
    pub fn as_maintenance(&self) -> Maintenance {
        Maintenance {
            targets: self.targets.clone(),
            start: self.start,
            end: self.end,
            reason: self.reason.clone(),
        }
    }
}

/// Writes each window with its targets, and chains it (its targets are
/// part of its record).
pub(super) fn write_windows(
    tx: &Transaction,
    chain: &mut Appender,
    windows: &[Window],
) -> rusqlite::Result<()> {
    for w in windows {
        // created_ms, created_by, reason, start_ms, end_ms: see `chain.rs`.
        let values = [
            ValueRef::Integer(ms_floor(w.created)),
            text(&w.by),
            text(&w.reason),
            ValueRef::Integer(ms_floor(w.start)),
            ValueRef::Integer(ms_ceil(w.end)),
        ];
        let id = ValueRef::Integer(w.id as i64);
        tx.prepare_cached(&MAINTENANCE_WINDOWS.insert_sql(true))?
            .execute(params_from_iter(bind(&[id]).chain(bind(&values))))?;
        let mut target =
            tx.prepare_cached("INSERT INTO maintenance_targets (window, target) VALUES (?1, ?2)")?;
        for t in &w.targets {
            target.execute(params![w.id as i64, t])?;
        }
        chain.append(
            &MAINTENANCE_WINDOWS,
            w.id as i64,
            &values,
            w.targets.iter().map(|t| text(t)),
        )?;
    }
    Ok(())
}

impl Store {
    /// Every declared window, oldest first.
    pub fn windows(&self) -> Result<Vec<Window>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, created_ms, created_by, reason, start_ms, end_ms
                 FROM maintenance_windows ORDER BY id",
            )
            .map_err(self.err("read maintenance windows"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .map_err(self.err("read maintenance windows"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, created, by, reason, start, end) =
                row.map_err(self.err("read maintenance windows"))?;
            out.push(Window {
                id: id as u64,
                created: self.timestamp(created, "maintenance_windows.created_ms")?,
                by,
                reason,
                start: self.timestamp(start, "maintenance_windows.start_ms")?,
                end: self.timestamp(end, "maintenance_windows.end_ms")?,
                targets: Vec::new(),
            });
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT target FROM maintenance_targets WHERE window = ?1 ORDER BY rowid",
            )
            .map_err(self.err("read maintenance targets"))?;
        for w in &mut out {
            w.targets = stmt
                .query_map([w.id as i64], |r| r.get::<_, String>(0))
                .map_err(self.err("read maintenance targets"))?
                .collect::<Result<_, _>>()
                .map_err(self.err("read maintenance targets"))?;
        }
        Ok(out)
    }

    /// The id the next window gets.
    pub fn next_window_id(&self) -> Result<u64, StoreError> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(id) FROM maintenance_windows", [], |r| r.get(0))
            .map_err(self.err("read the window ids"))?;
        Ok(max.map_or(1, |m| m as u64 + 1))
    }

    /// The incidents window `id` declared planned.
    pub fn incidents_planned_by(&self, id: u64) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT incident FROM incident_events WHERE event = 'planned' AND text LIKE ?1
                 ORDER BY incident",
            )
            .map_err(self.err("read planned incidents"))?;
        let rows = stmt
            .query_map([format!("maintenance window {id}:%")], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(self.err("read planned incidents"))?;
        rows.map(|r| r.map(|v| v as u64))
            .collect::<Result<_, _>>()
            .map_err(self.err("read planned incidents"))
    }

    /// The unplanned incidents of a target that opened in `[start, end)`.
    pub fn unplanned_incidents_opened_in(
        &self,
        kind: TargetKind,
        target: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<Incident>, StoreError> {
        self.query_incidents(
            &format!(
                "SELECT {} FROM incidents WHERE kind = ?1 AND target = ?2 AND planned = 0
                 AND opened_ms >= ?3 AND opened_ms < ?4 ORDER BY id",
                super::incidents::COLUMNS
            ),
            params![kind.as_str(), target, ms_floor(start), ms_ceil(end)],
        )
    }
}
