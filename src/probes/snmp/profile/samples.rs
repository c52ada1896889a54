//! One round's samples, packed: what a device's rounds keep between polls.
//!
//! Every polled device keeps its latest samples (10,000 24-port switches:
//! 2.2 million of them), and from one poll to the next only their values
//! change. So a round's samples are a [`Shape`], the metric and labels of
//! each value, shared by the device's rounds for as long as it stays the
//! same, and the values alone, 8 bytes each: a steady poll allocates only
//! its values.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use super::{intern, Family, Labels, Sample, SampleKind};

/// What each value of a round is: its metric (family) and its labels, in
/// the order the profile evaluated them. Families and label sets are kept
/// once each (the metrics of one row share a label set, and equal sets of
/// different devices are one, see [`intern`]) and each value names its
/// label set by position: 4 bytes a value instead of 24.
#[derive(Debug)]
pub struct Shape {
    /// Distinct families (by identity), in order of first use.
    families: Box<[Arc<Family>]>,
    /// Distinct label sets (by identity), in order of first use.
    labels: Box<[Labels]>,
    /// Each value's label set, a position in `labels`.
    entries: Box<[u32]>,
    /// Consecutive values of one family: (its position in `families`, the
    /// end of the run in `entries`); each run starts where the previous
    /// one ended.
    runs: Box<[(u32, u32)]>,
}

impl Shape {
    fn new(samples: &[Sample]) -> Shape {
        let mut families: Vec<Arc<Family>> = Vec::new();
        let mut labels: Vec<Labels> = Vec::new();
        let mut label_index: HashMap<*const (), u32> = HashMap::new();
        let mut entries = Vec::with_capacity(samples.len());
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for (i, s) in samples.iter().enumerate() {
            let same_family = runs
                .last()
                .is_some_and(|&(f, _)| Arc::ptr_eq(&families[f as usize], &s.family));
            if !same_family {
                let f = match families.iter().position(|f| Arc::ptr_eq(f, &s.family)) {
                    Some(f) => f,
                    None => {
                        families.push(s.family.clone());
                        families.len() - 1
                    }
                };
                runs.push((f as u32, i as u32));
            }
            if let Some(run) = runs.last_mut() {
                run.1 = i as u32 + 1;
            }
            let key = Arc::as_ptr(&s.labels) as *const ();
            let l = *label_index.entry(key).or_insert_with(|| {
                labels.push(intern::labels(&s.labels));
                labels.len() as u32 - 1
            });
            entries.push(l);
        }
        Shape {
            families: families.into(),
            labels: labels.into(),
            entries: entries.into(),
            runs: runs.into(),
        }
    }

    /// How many values the shape describes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Each run of consecutive values of one family: the family and the
    /// values' positions.
    fn runs(&self) -> impl Iterator<Item = (&Arc<Family>, Range<usize>)> + '_ {
        let mut start = 0;
        self.runs.iter().map(move |&(f, end)| {
            let range = start..end as usize;
            start = end as usize;
            (&self.families[f as usize], range)
        })
    }

    /// Whether `samples` has this shape: the same families and label sets
    /// in the same order. A label set is compared by its text once per
    /// row, not once per value.
    fn fits(&self, samples: &[Sample]) -> bool {
        if samples.len() != self.entries.len() {
            return false;
        }
        // The last pair of label sets found equal (new, kept).
        let mut last: Option<(*const (), u32)> = None;
        let mut i = 0;
        for (family, range) in self.runs() {
            for at in range {
                let s = &samples[i];
                i += 1;
                if !Arc::ptr_eq(family, &s.family) {
                    return false;
                }
                let kept = self.entries[at];
                let new = Arc::as_ptr(&s.labels) as *const ();
                if last == Some((new, kept)) {
                    continue;
                }
                if self.labels[kept as usize] != s.labels {
                    return false;
                }
                last = Some((new, kept));
            }
        }
        true
    }
}

/// A device's samples of one round: a shared [`Shape`] and the values.
/// Cloning shares both. Empty when the round failed or read nothing.
#[derive(Clone, Debug, Default)]
pub struct Samples(Option<(Arc<Shape>, Arc<[f64]>)>);

/// One sample of a [`Samples`], borrowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleRef<'a> {
    pub family: &'a Arc<Family>,
    pub labels: &'a Labels,
    pub value: f64,
}

impl<'a> SampleRef<'a> {
    /// Full name, e.g. `netkpi_if_in_octets_total`.
    pub fn name(&self) -> &'a str {
        &self.family.name
    }

    pub fn kind(&self) -> SampleKind {
        self.family.kind
    }

    pub fn help(&self) -> &'a str {
        &self.family.help
    }

    /// The value of the label `key`, if the sample has it.
    pub fn label(&self, key: &str) -> Option<&'a str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }
}

impl Samples {
    /// Packs one round's samples, sharing the shape of `previous` (the
    /// same device's previous round) when they have the same one.
    pub fn pack(samples: Vec<Sample>, previous: Option<&Arc<Shape>>) -> Samples {
        if samples.is_empty() {
            return Samples(None);
        }
        let shape = match previous {
            Some(shape) if shape.fits(&samples) => shape.clone(),
            _ => Arc::new(Shape::new(&samples)),
        };
        let values = samples.iter().map(|s| s.value).collect();
        Samples(Some((shape, values)))
    }

    /// The shape, to pass to the next round's [`Samples::pack`].
    pub fn shape(&self) -> Option<&Arc<Shape>> {
        self.0.as_ref().map(|(shape, _)| shape)
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |(_, values)| values.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every sample, in the order the profiles evaluated them.
    pub fn iter(&self) -> impl Iterator<Item = SampleRef<'_>> + '_ {
        self.families().flat_map(|(_, samples)| samples)
    }

    /// The samples by runs of one family, in order: each run's family and
    /// its samples. A family appears once per run (usually once: a
    /// profile's metric gives one run; several metrics or profiles of the
    /// same name give more).
    pub fn families(
        &self,
    ) -> impl Iterator<Item = (&Arc<Family>, impl Iterator<Item = SampleRef<'_>> + '_)> + '_ {
        self.0.iter().flat_map(|(shape, values)| {
            shape.runs().map(move |(family, range)| {
                let samples = range.map(move |i| SampleRef {
                    family,
                    labels: &shape.labels[shape.entries[i] as usize],
                    value: values[i],
                });
                (family, samples)
            })
        })
    }

    /// Whether both are the same packed round (not a copy).
    pub fn ptr_eq(&self, other: &Samples) -> bool {
        match (&self.0, &other.0) {
            (Some((a, x)), Some((b, y))) => Arc::ptr_eq(a, b) && Arc::ptr_eq(x, y),
            (None, None) => true,
            _ => false,
        }
    }
}

impl From<Vec<Sample>> for Samples {
    fn from(samples: Vec<Sample>) -> Samples {
        Samples::pack(samples, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(name: &str) -> Arc<Family> {
        Arc::new(Family {
            name: name.into(),
            kind: SampleKind::Gauge,
            help: String::new(),
        })
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (Arc::from(*k), Arc::from(*v)))
            .collect()
    }

    /// Two metrics over two rows, as `evaluate` gives them: each row's
    /// label set shared by both metrics.
    fn round(up: &Arc<Family>, octets: &Arc<Family>, names: [&str; 2], v: f64) -> Vec<Sample> {
        let rows = names.map(|n| labels(&[("if_index", "1"), ("if_name", n)]));
        let mut out = Vec::new();
        for family in [up, octets] {
            for (i, row) in rows.iter().enumerate() {
                out.push(Sample {
                    family: family.clone(),
                    labels: row.clone(),
                    value: v + i as f64,
                });
            }
        }
        out
    }

    fn unpack(s: &Samples) -> Vec<Sample> {
        s.iter()
            .map(|r| Sample {
                family: r.family.clone(),
                labels: r.labels.clone(),
                value: r.value,
            })
            .collect()
    }

    #[test]
    fn a_steady_round_shares_the_previous_shape_and_gives_back_its_samples() {
        let (up, octets) = (family("up"), family("octets"));
        let first = Samples::pack(round(&up, &octets, ["a", "b"], 1.0), None);
        assert_eq!(unpack(&first), round(&up, &octets, ["a", "b"], 1.0));
        let shape = first.shape().unwrap();
        assert_eq!((shape.families.len(), shape.labels.len()), (2, 2));

        let second = Samples::pack(round(&up, &octets, ["a", "b"], 5.0), first.shape());
        assert!(Arc::ptr_eq(first.shape().unwrap(), second.shape().unwrap()));
        assert_eq!(unpack(&second), round(&up, &octets, ["a", "b"], 5.0));

        // A renamed row, another family, another count: a new shape.
        for changed in [
            round(&up, &octets, ["a", "c"], 5.0),
            round(&up, &family("octets"), ["a", "b"], 5.0),
            round(&up, &octets, ["a", "b"], 5.0)[..3].to_vec(),
        ] {
            let third = Samples::pack(changed.clone(), second.shape());
            assert!(!Arc::ptr_eq(first.shape().unwrap(), third.shape().unwrap()));
            assert_eq!(unpack(&third), changed);
        }
    }

    #[test]
    fn families_come_in_runs_in_order() {
        let (a, b) = (family("a"), family("b"));
        let row = labels(&[]);
        let s = |family: &Arc<Family>, value| Sample {
            family: family.clone(),
            labels: row.clone(),
            value,
        };
        let packed: Samples = vec![s(&a, 1.0), s(&a, 2.0), s(&b, 3.0), s(&a, 4.0)].into();
        let runs: Vec<(&str, Vec<f64>)> = packed
            .families()
            .map(|(f, samples)| (f.name.as_str(), samples.map(|s| s.value).collect()))
            .collect();
        assert_eq!(
            runs,
            [("a", vec![1.0, 2.0]), ("b", vec![3.0]), ("a", vec![4.0])]
        );
        assert_eq!(packed.len(), 4);
        assert!(Samples::default().is_empty());
        assert_eq!(Samples::from(Vec::new()).iter().count(), 0);
        assert!(packed.ptr_eq(&packed.clone()));
    }
}
