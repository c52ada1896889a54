//! Energy per device and local day (schema v6): each commit adds what the
//! ledger task metered since the previous one (see [`crate::energy`]);
//! reports read whole days back.

use std::collections::BTreeMap;

use jiff::civil::Date;
use rusqlite::{params, Transaction};

use super::{Store, StoreError};
use crate::energy::{Days, EnergyDay, JOULES_PER_WH};

/// Adds `days` to the stored rows, in the commit's transaction.
pub(super) fn write_days(tx: &Transaction, days: &Days) -> rusqlite::Result<()> {
    if days.is_empty() {
        return Ok(());
    }
    let mut upsert = tx.prepare_cached(
        "INSERT INTO energy_days (device, day, wh, covered_ms, apparent_ms, day_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (device, day) DO UPDATE SET
             wh = wh + excluded.wh,
             covered_ms = covered_ms + excluded.covered_ms,
             apparent_ms = apparent_ms + excluded.apparent_ms,
             day_ms = excluded.day_ms",
    )?;
    for ((device, day), e) in days {
        upsert.execute(params![
            device,
            day.to_string(),
            e.wh,
            e.covered_ms,
            e.apparent_ms,
            e.day_ms
        ])?;
    }
    Ok(())
}

impl Store {
    /// Every device's energy on each local day `from <= day < to`, ordered
    /// by day, then device. A day without a row had no metered power (no
    /// UPS polled, or none answered with power): its coverage is 0.
    pub fn energy_days(&self, from: Date, to: Date) -> Result<Vec<EnergyDay>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT device, day, wh, covered_ms, apparent_ms, day_ms FROM energy_days
                 WHERE day >= ?1 AND day < ?2 ORDER BY day, device",
            )
            .map_err(self.err("read energy"))?;
        let rows = stmt
            .query_map([from.to_string(), to.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .map_err(self.err("read energy"))?;
        let mut out = Vec::new();
        for row in rows {
            let (device, day, wh, covered_ms, apparent_ms, day_ms) =
                row.map_err(self.err("read energy"))?;
            let day: Date = day.parse().map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!("energy_days of {device}: day {day:?}: {e}"),
            })?;
            out.push(EnergyDay {
                device,
                day,
                kwh: wh / 1_000.0,
                covered_s: covered_ms as f64 / 1_000.0,
                apparent_s: apparent_ms as f64 / 1_000.0,
                day_s: day_ms as f64 / 1_000.0,
            });
        }
        Ok(out)
    }

    /// Each device's energy over every stored day, in joules (where the
    /// `netkpi_energy_joules_total` counters start).
    pub fn energy_joules(&self) -> Result<BTreeMap<String, f64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT device, SUM(wh) FROM energy_days GROUP BY device")
            .map_err(self.err("read energy totals"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))
            .map_err(self.err("read energy totals"))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (device, wh) = row.map_err(self.err("read energy totals"))?;
            out.insert(device, wh * JOULES_PER_WH);
        }
        Ok(out)
    }
}
