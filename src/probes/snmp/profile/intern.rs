//! Label sets shared between devices.
//!
//! Devices of one model answer with the same rows: the same ifIndex and
//! ifName on every 24-port access switch of a city, an empty ifAlias on most
//! of them. What a device keeps between polls ([`super::Shape`]) therefore
//! takes its label sets from one process-wide table, so that equal sets
//! (and equal label values) are held once whatever the number of devices
//! that answered them.
//!
//! Only a new shape goes through the table (a device's first round, or a
//! round whose rows changed); a steady poll never touches it. Entries nobody
//! else holds any more are dropped whenever the table has doubled since the
//! last sweep, so a renamed interface does not stay in memory for good.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::Labels;

/// Below this many entries a table is not swept.
const MIN_SWEEP: usize = 1024;

/// Values kept once each, and swept of those only the table holds.
struct Table<T: ?Sized> {
    kept: HashSet<Arc<T>>,
    /// How many entries the last sweep left.
    after_sweep: usize,
}

impl<T: ?Sized + Eq + std::hash::Hash> Table<T> {
    fn new() -> Self {
        Table {
            kept: HashSet::new(),
            after_sweep: 0,
        }
    }

    /// The kept value equal to `value`, or `make()` kept from now on.
    fn get_or_insert(&mut self, value: &T, make: impl FnOnce() -> Arc<T>) -> Arc<T> {
        if let Some(kept) = self.kept.get(value) {
            return kept.clone();
        }
        if self.kept.len() >= MIN_SWEEP.max(2 * self.after_sweep) {
            self.kept.retain(|v| Arc::strong_count(v) > 1);
            self.after_sweep = self.kept.len();
        }
        let made = make();
        self.kept.insert(made.clone());
        made
    }
}

struct Tables {
    sets: Table<[(Arc<str>, Arc<str>)]>,
    texts: Table<str>,
}

static TABLES: Mutex<Option<Tables>> = Mutex::new(None);

/// The process's copy of a label set equal to `labels` (names and values
/// shared too), made from `labels` if there is none yet.
pub fn labels(labels: &Labels) -> Labels {
    let mut guard = TABLES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let Tables { sets, texts } = guard.get_or_insert_with(|| Tables {
        sets: Table::new(),
        texts: Table::new(),
    });
    sets.get_or_insert(labels, || {
        labels
            .iter()
            .map(|(name, value)| {
                let name = texts.get_or_insert(name, || name.clone());
                let value = texts.get_or_insert(value, || value.clone());
                (name, value)
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (Arc::from(*k), Arc::from(*v)))
            .collect()
    }

    #[test]
    fn equal_sets_and_values_are_held_once() {
        let a = labels(&set(&[("if_index", "1"), ("if_name", "intern-test-Gi0/1")]));
        let b = labels(&set(&[("if_index", "1"), ("if_name", "intern-test-Gi0/1")]));
        assert!(Arc::ptr_eq(&a, &b));
        let c = labels(&set(&[("if_index", "2"), ("if_name", "intern-test-Gi0/1")]));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(
            *c,
            *set(&[("if_index", "2"), ("if_name", "intern-test-Gi0/1")])
        );
        // Another set with the same name value shares its text.
        assert!(Arc::ptr_eq(&a[1].1, &c[1].1));
        assert!(Arc::ptr_eq(&a[0].0, &c[0].0));
    }

    #[test]
    fn a_table_drops_what_only_it_holds_once_it_has_doubled() {
        let mut table: Table<str> = Table::new();
        let held: Vec<Arc<str>> = (0..MIN_SWEEP)
            .map(|i| {
                let text = format!("held-{i}");
                table.get_or_insert(&text, || Arc::from(text.as_str()))
            })
            .collect();
        for i in 0..MIN_SWEEP {
            let text = format!("dropped-{i}");
            table.get_or_insert(&text, || Arc::from(text.as_str()));
        }
        // The sweep ran when the table first reached MIN_SWEEP entries (all
        // of them held), then again at twice that: only the held ones stay,
        // plus the entry that made it sweep.
        let text = "after";
        table.get_or_insert(text, || Arc::from(text));
        assert_eq!(table.kept.len(), MIN_SWEEP + 1);
        assert!(held.iter().all(|h| table.kept.contains(h)));
        let again = table.get_or_insert("held-7", || Arc::from("new"));
        assert!(Arc::ptr_eq(&again, &held[7]));
    }
}
