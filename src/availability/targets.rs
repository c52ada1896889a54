//! The figures of every configured target over a period, read from the store:
//! what the availability gauges, `GET /api/v1/availability` and reports all
//! publish, assembled in one place so they cannot disagree.

use jiff::Timestamp;

use super::{compute, Figures};
use crate::inventory::Inventory;
use crate::model::{Span, State, TargetKind};
use crate::store::{Histories, Store, StoreError};

/// One target's figures: [`Figures`] over one period, or one `[Figures; N]`
/// per period for [`availability_over`].
#[derive(Clone, Debug, PartialEq)]
pub struct TargetFigures<F = Figures> {
    pub kind: TargetKind,
    /// The device's name or the line's id.
    pub target: String,
    pub figures: F,
}

/// The figures of every target of `inventory` over `[from, to)`, devices
/// first, in config order, each with its own maintenance windows taken out
/// (see [`compute`]; time after `now` is unknown). A target the store holds
/// nothing for is unknown throughout; targets in the store but no longer in
/// `inventory` are left out.
///
/// `store` may be a reader ([`Store::open_reader`]).
pub fn availability(
    store: &Store,
    inventory: &Inventory,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Result<Vec<TargetFigures>, StoreError> {
    let histories = store.histories(from, to)?;
    Ok(per_target(&histories, inventory, |history, maintenance| {
        compute(history, from, to, now, maintenance)
    }))
}

/// Like [`availability`] for a fixed number of periods, from one read of
/// the store covering them all: `each(kind, name, figures)` for every
/// target in order, `figures[i]` over `periods[i]` (the windows of the
/// availability gauges). Handed over one target at a time, not as a list:
/// the daemon keeps them packed, and a list of 100,000 targets' figures
/// over five windows was 47 MB.
pub fn availability_over<const N: usize>(
    store: &Store,
    inventory: &Inventory,
    periods: [(Timestamp, Timestamp); N],
    now: Timestamp,
    mut each: impl FnMut(TargetKind, &str, [Figures; N]),
) -> Result<(), StoreError> {
    let earliest = periods.iter().map(|p| p.0).min().unwrap_or(now);
    let latest = periods.iter().map(|p| p.1).max().unwrap_or(now);
    let histories = store.histories(earliest, latest)?;
    for (kind, name) in inventory.targets() {
        let history = history_of(&histories, kind, name);
        let maintenance = inventory.maintenance(kind, name);
        each(
            kind,
            name,
            periods.map(|(from, to)| compute(history, from, to, now, maintenance)),
        );
    }
    Ok(())
}

/// A target's history; empty when the store holds none.
fn history_of<'a>(
    histories: &'a Histories,
    kind: TargetKind,
    name: &str,
) -> &'a [(Timestamp, State)] {
    histories
        .get(&(kind, name.to_string()))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Like [`availability`] for any number of periods, from one read of the
/// store covering them all: `figures[i]` is over `periods[i]` (a report's
/// period and each of its months).
pub fn availability_each(
    store: &Store,
    inventory: &Inventory,
    periods: &[(Timestamp, Timestamp)],
    now: Timestamp,
) -> Result<Vec<TargetFigures<Vec<Figures>>>, StoreError> {
    let (Some(earliest), Some(latest)) = (
        periods.iter().map(|p| p.0).min(),
        periods.iter().map(|p| p.1).max(),
    ) else {
        return Ok(per_target(&Histories::new(), inventory, |_, _| Vec::new()));
    };
    let histories = store.histories(earliest, latest)?;
    Ok(per_target(&histories, inventory, |history, maintenance| {
        periods
            .iter()
            .map(|&(from, to)| compute(history, from, to, now, maintenance))
            .collect()
    }))
}

/// `figures(history, maintenance)` for each target of `inventory`, in its
/// order; a target without a history gets an empty one.
fn per_target<F>(
    histories: &Histories,
    inventory: &Inventory,
    figures: impl Fn(&[(Timestamp, State)], &[Span]) -> F,
) -> Vec<TargetFigures<F>> {
    inventory
        .targets()
        .map(|(kind, name)| TargetFigures {
            kind,
            target: name.to_string(),
            figures: figures(
                history_of(histories, kind, name),
                inventory.maintenance(kind, name),
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::Transition;

    /// Minute `m` after a fixed origin: 2026-06-01T00:00:00Z.
    fn t(m: i64) -> Timestamp {
        Timestamp::from_second(1_780_272_000 + 60 * m).unwrap()
    }

    fn tr(kind: TargetKind, target: &str, m: i64, state: State) -> Transition {
        Transition {
            target: target.to_string(),
            kind,
            at: t(m),
            state,
            cause: None,
        }
    }

    /// Two devices and a line on the second; a window on `acc-001` (minutes
    /// 10..20) covers its line too.
    fn inventory() -> Inventory {
        let text = format!(
            r#"
[defaults]
icmp = {{ interval = "10s", timeout = "1s", count = 3, down_after = 2, up_after = 2 }}

[[device]]
name = "core-r1"
role = "router"
address = "127.0.10.1"
icmp = {{}}

[[device]]
name = "acc-001"
role = "access_egress"
address = "127.0.20.1"
parent = "core-r1"
icmp = {{}}

[[line]]
id = "L-001"
unit = "Finance Bureau"
device = "acc-001"

[[maintenance]]
targets = ["acc-001"]
start = "{}"
end = "{}"
reason = "test"
"#,
            t(10),
            t(20)
        );
        let config =
            crate::config::load_str(Path::new("test.toml"), &text).expect("test config is valid");
        Inventory::new(&config)
    }

    /// A store where core-r1 is up from 0 and down 30..40, acc-001 is down
    /// 5..25 and up otherwise from 0, L-001 has no entry, and a target no
    /// longer configured is down throughout.
    fn store(dir: &Path) -> Store {
        let mut store = Store::open(dir).unwrap();
        store
            .append(
                &[
                    tr(TargetKind::Device, "core-r1", 0, State::Up),
                    tr(TargetKind::Device, "acc-001", 0, State::Up),
                    tr(TargetKind::Device, "gone", 0, State::Down),
                    tr(TargetKind::Device, "acc-001", 5, State::Down),
                    tr(TargetKind::Device, "acc-001", 25, State::Up),
                    tr(TargetKind::Device, "core-r1", 30, State::Down),
                    tr(TargetKind::Device, "core-r1", 40, State::Up),
                ],
                None,
            )
            .unwrap();
        store
    }

    #[test]
    fn every_configured_target_in_config_order_with_its_own_maintenance() {
        let tmp = tempfile::tempdir().unwrap();
        drop(store(tmp.path()));
        let reader = Store::open_reader(tmp.path()).unwrap();
        let inventory = inventory();
        let (from, to, now) = (t(0), t(60), t(50));
        let got = availability(&reader, &inventory, from, to, now).unwrap();
        let names: Vec<_> = got.iter().map(|f| (f.kind, f.target.as_str())).collect();
        assert_eq!(
            names,
            [
                (TargetKind::Device, "core-r1"),
                (TargetKind::Device, "acc-001"),
                (TargetKind::Line, "L-001"),
            ]
        );
        // Each is exactly `compute` over the target's own ledger and windows.
        let histories = reader.histories(from, to).unwrap();
        for f in &got {
            let history = histories
                .get(&(f.kind, f.target.clone()))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let want = compute(
                history,
                from,
                to,
                now,
                inventory.maintenance(f.kind, &f.target),
            );
            assert_eq!(f.figures, want, "{}", f.target);
        }
        let [core, acc, line] = &got[..] else {
            unreachable!()
        };
        assert_eq!((core.figures.down_s, core.figures.outages), (600.0, 1));
        // Down 5..25 with the window 10..20 taken out: 10 down minutes.
        assert_eq!(acc.figures.down_s, 600.0);
        assert_eq!(acc.figures.maintenance_s, 600.0);
        assert_eq!(acc.figures.unknown_s, 600.0, "after now");
        // Nothing in the ledger: unknown, except its device's window.
        assert_eq!(line.figures.availability, None);
        assert_eq!(line.figures.maintenance_s, 600.0);
        assert_eq!(line.figures.unknown_s, 3000.0);
    }

    #[test]
    fn several_periods_from_one_read_equal_one_period_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(tmp.path());
        let inventory = inventory();
        let now = t(60);
        let periods = [
            (t(35), now),
            (t(0), now),
            (t(-100), now),
            (t(10), t(30)),
            (now, now),
        ];
        let mut all = Vec::new();
        availability_over(&store, &inventory, periods, now, |kind, target, figures| {
            all.push(TargetFigures {
                kind,
                target: target.to_string(),
                figures,
            })
        })
        .unwrap();
        assert_eq!(all.len(), 3);
        for (i, (from, to)) in periods.into_iter().enumerate() {
            let one = availability(&store, &inventory, from, to, now).unwrap();
            for (a, b) in all.iter().zip(&one) {
                assert_eq!((a.kind, &a.target), (b.kind, &b.target));
                assert_eq!(a.figures[i], b.figures, "{} over {from}..{to}", a.target);
            }
        }
        // The empty period [60, 60) has no figures.
        assert!(all.iter().all(|f| f.figures[4] == Figures::default()));
    }

    #[test]
    fn any_periods_from_one_read_equal_one_period_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(tmp.path());
        let inventory = inventory();
        let periods = [
            (t(0), t(60)),
            (t(0), t(20)),
            (t(20), t(45)),
            (t(45), t(90)),
            (t(-30), t(5)),
        ];
        let now = t(70);
        let all = availability_each(&store, &inventory, &periods, now).unwrap();
        assert_eq!(all.len(), 3);
        for (i, &(from, to)) in periods.iter().enumerate() {
            let one = availability(&store, &inventory, from, to, now).unwrap();
            for (a, b) in all.iter().zip(&one) {
                assert_eq!(a.figures[i], b.figures, "{} over {from}..{to}", a.target);
            }
        }
        let none = availability_each(&store, &inventory, &[], now).unwrap();
        assert!(none.iter().all(|f| f.figures.is_empty()));
    }

    #[test]
    fn an_empty_store_is_unknown_throughout() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let inventory = inventory();
        let got = availability(&store, &inventory, t(0), t(60), t(60)).unwrap();
        assert_eq!(got.len(), 3);
        for f in got {
            assert_eq!(f.figures.availability, None, "{}", f.target);
            assert_eq!(
                f.figures.unknown_s + f.figures.maintenance_s,
                3600.0,
                "{}",
                f.target
            );
        }
    }
}
