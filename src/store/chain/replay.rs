//! The second half of `netkpi verify`: each incident's current view (the
//! columns of `incidents` the report and the incident figures read, not
//! chained themselves) folded again from its chained `incident_events` and
//! compared with the row, so that an edit of a restore time, an
//! acknowledgement or the planned flag shows although the chain is intact.

use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

use super::{named, time, INCIDENTS};
use crate::store::incidents::PLANNED_AT_OPENING;

/// The columns of `incidents` folded from its events, in the order compared.
pub(super) const FOLDED: [&str; 7] = [
    "acknowledged_ms",
    "acknowledged_by",
    "restored_ms",
    "root_id",
    "cause",
    "flaps",
    "planned",
];

/// An incident's view as its events give it, in the order of [`FOLDED`].
struct Fold {
    values: [Value; 7],
    /// Its `opened` event was seen, and it said planned (or said nothing:
    /// `None`, as before the chain).
    opened: Option<Option<bool>>,
}

impl Fold {
    fn new() -> Fold {
        Fold {
            values: [
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Integer(0),
                Value::Integer(0),
            ],
            opened: None,
        }
    }

    /// Applies one event, as `store::incidents::write_changes` updates the
    /// row: `(at_ms, event, by, text, root_id, cause)`.
    fn apply(&mut self, e: &[Value; 6]) {
        let [at, event, by, text, root_id, cause] = e;
        let Value::Text(event) = event else { return };
        match event.as_str() {
            "opened" => {
                self.values[3] = root_id.clone();
                self.values[4] = cause.clone();
                let planned = match text {
                    Value::Text(t) => Some(t == PLANNED_AT_OPENING),
                    _ => None,
                };
                self.values[6] = Value::Integer(i64::from(planned == Some(true)));
                self.opened = Some(planned);
            }
            "restored" => self.values[2] = at.clone(),
            "reopened" => {
                self.values[2] = Value::Null;
                if let Value::Integer(f) = &mut self.values[5] {
                    *f += 1;
                }
            }
            "relinked" => {
                self.values[3] = root_id.clone();
                self.values[4] = cause.clone();
            }
            "acknowledged" => {
                self.values[0] = at.clone();
                self.values[1] = by.clone();
            }
            "planned" => self.values[6] = Value::Integer(1),
            _ => {}
        }
    }
}

/// A value in a message: times as times.
fn word(column: &str, v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::Integer(ms) if column.ends_with("_ms") => format!("{} ({ms})", time(*ms)),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Text(t) => format!("{t:?}"),
        Value::Blob(b) => format!("x'{}'", super::hex(b)),
    }
}

/// Folds every incident's chained events and compares the result with its
/// row; returns the first difference, in id order. `pre_chain_last`: the
/// highest incident id chained by the migration that started the chain
/// (`None`: none), whose `opened` event may not say it was planned from
/// the start (netkpi wrote no text there then), so a planned row with such
/// an event is taken as it is.
pub(super) fn incidents(
    conn: &Connection,
    pre_chain_last: Option<i64>,
) -> rusqlite::Result<Option<String>> {
    let mut rows = conn.prepare(&format!(
        "SELECT id, {} FROM incidents ORDER BY id",
        FOLDED.join(", ")
    ))?;
    let mut rows = rows.query([])?;
    let mut events = conn.prepare(
        "SELECT incident, at_ms, event, by, text, root_id, cause FROM incident_events
         ORDER BY incident, id",
    )?;
    let mut events = events.query([])?;
    // The next event not yet folded: its incident and its values.
    let next_event = |events: &mut rusqlite::Rows| -> rusqlite::Result<Option<(i64, [Value; 6])>> {
        let Some(e) = events.next()? else {
            return Ok(None);
        };
        let incident = match e.get_ref(0)? {
            ValueRef::Integer(i) => i,
            _ => i64::MIN,
        };
        let v = |i: usize| e.get::<_, Value>(i);
        Ok(Some((incident, [v(1)?, v(2)?, v(3)?, v(4)?, v(5)?, v(6)?])))
    };
    let mut pending = next_event(&mut events)?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let mut fold = Fold::new();
        while let Some((incident, e)) = &pending {
            if *incident > id {
                break;
            }
            if *incident == id {
                fold.apply(e);
            }
            pending = next_event(&mut events)?;
        }
        let Some(said_planned) = fold.opened else {
            return Ok(Some(format!(
                "{} has no chained opened event: its columns cannot be checked",
                named(conn, &INCIDENTS, id)?
            )));
        };
        for (i, column) in FOLDED.iter().enumerate() {
            let stored: Value = row.get(i + 1)?;
            let chained = &fold.values[i];
            if stored == *chained {
                continue;
            }
            let before_chain = *column == "planned"
                && said_planned.is_none()
                && stored == Value::Integer(1)
                && pre_chain_last.is_some_and(|last| id <= last);
            if before_chain {
                continue;
            }
            return Ok(Some(format!(
                "{} was altered: its {column} is {}, but its chained events give {}",
                named(conn, &INCIDENTS, id)?,
                word(column, &stored),
                word(column, chained)
            )));
        }
    }
    Ok(None)
}
