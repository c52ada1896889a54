//! The incident figures — incidents opened, deadlines missed, the times to
//! respond and to restore (the `netkpi_incidents_*` counters and
//! histograms) — kept in `incident_figures` and updated by every commit
//! that changes an incident, in the same transaction. A start reads these
//! few rows and the incidents still on the board instead of every
//! incident and restoration of ten years.
//!
//! The figures always equal what [`Board::rebuild`] computes from the whole
//! store (a test holds them to it): counted over the incidents as they are
//! recorded now, so an incident declared planned after the fact leaves the
//! response, restore and breach figures here (a running daemon's counters
//! keep it until the next start: counters never go back). Each incident
//! row says in `missed` which of its deadlines are counted, judged when it
//! opens, is acknowledged and is restored (a deadline, once missed, stays
//! missed); a deadline that passes while an incident stays open is counted
//! by the board at the next start, where the row does not have it yet.
//!
//! [`Board::rebuild`]: crate::incidents::board::Board::rebuild

use std::collections::BTreeMap;

use jiff::Timestamp;
use rusqlite::{params, OptionalExtension, Transaction};

use super::incidents::{raw_incident, COLUMNS};
use super::{ms_floor, Store, StoreError};
use crate::incidents::board::{self, Deadline, Durations, Figures, BUCKETS};
use crate::incidents::{Change, Incident};
use crate::model::{Severity, TargetKind};

/// The schema version that added `incident_figures`: its migration fills
/// them from the incidents already there ([`genesis`]).
pub(super) const SINCE_VERSION: usize = 7;

/// The bit of `incidents.missed` for `d`.
fn bit(d: Deadline) -> i64 {
    match d {
        Deadline::Respond => 1,
        Deadline::Restore => 2,
    }
}

/// The deadlines `bits` (an `incidents.missed` value) holds.
pub(super) fn deadlines(bits: i64) -> Vec<Deadline> {
    [Deadline::Respond, Deadline::Restore]
        .into_iter()
        .filter(|&d| bits & bit(d) != 0)
        .collect()
}

const OPENED: &str = "opened";
const BREACHED: &str = "breached";
const RESPONSE: &str = "response";
const RESTORE: &str = "restore";
/// Keys of a histogram besides its buckets (`0` … `9`, +Inf last).
const SUM_MS: &str = "sum_ms";
const COUNT: &str = "count";

/// What one commit adds to `incident_figures` (negative where a
/// reclassification takes an incident out).
#[derive(Debug, Default)]
pub(super) struct Delta(BTreeMap<(&'static str, TargetKind, String), i64>);

impl Delta {
    fn add(&mut self, figure: &'static str, kind: TargetKind, key: &str, n: i64) {
        *self.0.entry((figure, kind, key.to_owned())).or_default() += n;
    }

    /// One observation of `ms` in a histogram, or its removal (`sign` −1).
    fn duration(&mut self, figure: &'static str, kind: TargetKind, ms: i64, sign: i64) {
        let ms = ms.max(0);
        let slot = Durations::slot(ms as f64 / 1000.0);
        self.add(figure, kind, &slot.to_string(), sign);
        self.add(figure, kind, SUM_MS, sign * ms);
        self.add(figure, kind, COUNT, sign);
    }

    fn breaches(&mut self, kind: TargetKind, bits: i64, sign: i64) {
        for d in deadlines(bits) {
            self.add(BREACHED, kind, d.as_str(), sign);
        }
    }

    /// Adds itself to the stored figures.
    pub(super) fn write(self, tx: &Transaction) -> rusqlite::Result<()> {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO incident_figures (figure, kind, key, value) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (figure, kind, key) DO UPDATE SET value = value + excluded.value",
        )?;
        for ((figure, kind, key), n) in self.0 {
            if n != 0 {
                upsert.execute(params![figure, kind.as_str(), key, n])?;
            }
        }
        Ok(())
    }
}

/// The incident `id` as its row holds it now, with its `missed` bits.
fn read(tx: &Transaction, id: i64) -> rusqlite::Result<Option<(Incident, i64)>> {
    let row = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, missed FROM incidents WHERE id = ?1"
        ))?
        .query_row([id], |r| Ok((raw_incident(r)?, r.get::<_, i64>(15)?)))
        .optional()?;
    Ok(row.and_then(|(raw, bits)| match raw.into_incident() {
        Ok(i) => Some((i, bits)),
        Err(detail) => {
            // Counted nowhere rather than blocking every write behind it.
            tracing::warn!(%detail, "an incident row cannot be read: its figures are not updated");
            None
        }
    }))
}

/// Whether the incident `id` is planned now (before `change` is written).
pub(super) fn planned(tx: &Transaction, id: i64) -> rusqlite::Result<bool> {
    Ok(tx
        .prepare_cached("SELECT planned FROM incidents WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// Counts `change`, already written to its incident's row, into `delta`.
/// `was_planned`: whether the incident was planned before it.
pub(super) fn account(
    tx: &Transaction,
    change: &Change,
    was_planned: bool,
    delta: &mut Delta,
) -> rusqlite::Result<()> {
    let id = change.id() as i64;
    let Some((i, bits)) = read(tx, id)? else {
        return Ok(());
    };
    let opened_ms = ms_floor(i.opened_at);
    let at = match change {
        Change::Opened(_) => {
            delta.add(OPENED, i.kind, i.severity.as_str(), 1);
            i.opened_at
        }
        Change::Acknowledged { at, .. } => {
            if !i.planned {
                delta.duration(RESPONSE, i.kind, ms_floor(*at) - opened_ms, 1);
            }
            *at
        }
        Change::Restored { at, .. } => {
            if !i.planned {
                delta.duration(RESTORE, i.kind, ms_floor(*at) - opened_ms, 1);
            }
            *at
        }
        Change::Planned { .. } => {
            if !was_planned {
                take_out(tx, &i, bits, delta)?;
            }
            return Ok(());
        }
        // Nothing to judge: a deadline passing while open is counted at the
        // next acknowledgement or restoration, or by the board at a start.
        Change::Reopened { .. } | Change::Relinked { .. } | Change::Noted { .. } => return Ok(()),
    };
    judge(tx, &i, bits, at, delta)
}

/// Counts the deadlines `i` has missed at `at` that its row does not count
/// yet, and marks them counted.
fn judge(
    tx: &Transaction,
    i: &Incident,
    bits: i64,
    at: Timestamp,
    delta: &mut Delta,
) -> rusqlite::Result<()> {
    let now = board::missed(i, at)
        .into_iter()
        .fold(bits, |b, d| b | bit(d));
    if now != bits {
        delta.breaches(i.kind, now & !bits, 1);
        tx.prepare_cached("UPDATE incidents SET missed = ?2 WHERE id = ?1")?
            .execute(params![i.id as i64, now])?;
    }
    Ok(())
}

/// Takes an incident declared planned out of the figures a planned one is
/// not part of: its response, every restoration, its breaches.
fn take_out(tx: &Transaction, i: &Incident, bits: i64, delta: &mut Delta) -> rusqlite::Result<()> {
    let opened_ms = ms_floor(i.opened_at);
    if let Some(ack) = i.acknowledged_at {
        delta.duration(RESPONSE, i.kind, ms_floor(ack) - opened_ms, -1);
    }
    let mut restored = tx.prepare_cached(
        "SELECT at_ms FROM incident_events WHERE incident = ?1 AND event = 'restored'",
    )?;
    let mut rows = restored.query([i.id as i64])?;
    while let Some(row) = rows.next()? {
        delta.duration(RESTORE, i.kind, row.get::<_, i64>(0)? - opened_ms, -1);
    }
    delta.breaches(i.kind, bits, -1);
    Ok(())
}

/// Fills the figures from the incidents already in the store (the
/// migration that adds them), each judged at `now_ms`.
pub(super) fn genesis(tx: &Transaction, now_ms: i64) -> rusqlite::Result<()> {
    let now = Timestamp::from_millisecond(now_ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let mut delta = Delta::default();
    let mut marks = Vec::new();
    {
        let mut stmt = tx.prepare(&format!("SELECT {COLUMNS} FROM incidents ORDER BY id"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let Ok(i) = raw_incident(row)?.into_incident() else {
                continue;
            };
            delta.add(OPENED, i.kind, i.severity.as_str(), 1);
            if i.planned {
                continue;
            }
            if let Some(ack) = i.acknowledged_at {
                delta.duration(RESPONSE, i.kind, ms_floor(ack) - ms_floor(i.opened_at), 1);
            }
            let bits = board::missed(&i, now)
                .into_iter()
                .fold(0, |b, d| b | bit(d));
            if bits != 0 {
                delta.breaches(i.kind, bits, 1);
                marks.push((i.id as i64, bits));
            }
        }
        let mut stmt = tx.prepare(
            "SELECT i.kind, e.at_ms - i.opened_ms FROM incident_events e
             JOIN incidents i ON i.id = e.incident
             WHERE e.event = 'restored' AND i.planned = 0",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            if let Some(kind) = TargetKind::parse(&row.get::<_, String>(0)?) {
                delta.duration(RESTORE, kind, row.get(1)?, 1);
            }
        }
    }
    let mut mark = tx.prepare("UPDATE incidents SET missed = ?2 WHERE id = ?1")?;
    for (id, bits) in marks {
        mark.execute([id, bits])?;
    }
    delta.write(tx)
}

impl Store {
    /// The incident figures as the last commit left them.
    pub fn incident_figures(&self) -> Result<Figures, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT figure, kind, key, value FROM incident_figures")
            .map_err(self.err("read the incident figures"))?;
        let mut rows = stmt
            .query([])
            .map_err(self.err("read the incident figures"))?;
        let mut figures = Figures::default();
        while let Some(row) = rows.next().map_err(self.err("read the incident figures"))? {
            let read = |r: &rusqlite::Row| -> rusqlite::Result<(String, String, String, i64)> {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            };
            let (figure, kind, key, value) =
                read(row).map_err(self.err("read the incident figures"))?;
            let corrupt = || StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!("incident_figures row ({figure}, {kind}, {key}) = {value}"),
            };
            let kind = TargetKind::parse(&kind).ok_or_else(corrupt)?;
            let n = u64::try_from(value).map_err(|_| corrupt())?;
            if n == 0 {
                // Taken out again by a reclassification.
                continue;
            }
            match figure.as_str() {
                OPENED => {
                    let severity = Severity::parse(&key).ok_or_else(corrupt)?;
                    figures.opened.insert((kind, severity), n);
                }
                BREACHED => {
                    let deadline = [Deadline::Respond, Deadline::Restore]
                        .into_iter()
                        .find(|d| d.as_str() == key)
                        .ok_or_else(corrupt)?;
                    figures.breaches.insert((kind, deadline), n);
                }
                RESPONSE | RESTORE => {
                    let histogram = if figure == RESPONSE {
                        &mut figures.response
                    } else {
                        &mut figures.restore
                    };
                    let d = histogram.entry(kind).or_default();
                    match key.as_str() {
                        SUM_MS => d.sum = n as f64 / 1000.0,
                        COUNT => d.count = n,
                        slot => {
                            let slot = slot
                                .parse::<usize>()
                                .ok()
                                .filter(|&s| s <= BUCKETS.len())
                                .ok_or_else(corrupt)?;
                            d.counts[slot] = n;
                        }
                    }
                }
                _ => return Err(corrupt()),
            }
        }
        Ok(figures)
    }

    /// The incidents on the board at `now` (open, or restored in the last
    /// day), oldest first, each with the deadlines the figures count as
    /// missed.
    pub fn board_incidents(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(Incident, Vec<Deadline>)>, StoreError> {
        // A millisecond wider than the board: the board decides exactly.
        let since = ms_floor(now)
            .saturating_sub(board::KEEP_RESTORED.as_millis() as i64)
            .saturating_sub(1);
        let sql = format!(
            "SELECT {COLUMNS}, missed FROM incidents WHERE restored_ms IS NULL
             UNION ALL
             SELECT {COLUMNS}, missed FROM incidents WHERE restored_ms >= ?1
             ORDER BY 1"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(self.err("read the open incidents"))?;
        let rows = stmt
            .query_map([since], |r| Ok((raw_incident(r)?, r.get::<_, i64>(15)?)))
            .map_err(self.err("read the open incidents"))?;
        let mut out = Vec::new();
        for row in rows {
            let (raw, bits) = row.map_err(self.err("read an incident"))?;
            out.push((self.incident_from(raw)?, deadlines(bits)));
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(super) mod tests;
