//! Reads the config file and every SNMP profile it may name, as one step:
//! `netkpi check`, `netkpi run` and a reload all go through [`load`], so a
//! broken profile is reported exactly like a broken config key.
//!
//! The config file alone is read by [`crate::config::load`]; this module
//! adds the profiles ([`ProfileSet`]) and what a device's polls ask for
//! ([`poll_plan`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{self, Config};
use crate::diag::Diagnostic;
use crate::probes::snmp::client::Request;
/// Read by every poll plan, and by the scheduler to see a reboot.
pub use crate::probes::snmp::oids::SYS_UPTIME;
use crate::probes::snmp::profile::{self, Part, Profile};
use crate::probes::snmp::Oid;

/// The profiles in force: the shipped ones, then the user's (a user file
/// with a shipped name replaces the shipped profile).
#[derive(Debug, Default)]
pub struct ProfileSet {
    by_name: BTreeMap<String, Arc<Profile>>,
}

impl ProfileSet {
    /// The shipped profiles and every `*.toml` in `dirs`; all problems of all
    /// files at once.
    pub fn load(dirs: &[PathBuf]) -> (ProfileSet, Vec<Diagnostic>) {
        let mut by_name: BTreeMap<String, Arc<Profile>> = profile::builtin()
            .into_iter()
            .map(|p| (p.name.clone(), Arc::new(p)))
            .collect();
        let mut diags = Vec::new();
        for dir in dirs {
            match profile::load_dir(dir) {
                Ok(user) => {
                    for p in user {
                        by_name.insert(p.name.clone(), Arc::new(p));
                    }
                }
                Err(d) => diags.extend(d),
            }
        }
        (ProfileSet { by_name }, diags)
    }

    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Profile>> {
        self.by_name.get(name)
    }

    /// The profiles a device names, in its order (unknown names were
    /// rejected when the config was checked).
    pub fn select(&self, names: &[String]) -> Vec<Arc<Profile>> {
        names.iter().filter_map(|n| self.get(n).cloned()).collect()
    }
}

/// What a device's polls ask for: `values` every poll, `lookups` (row
/// names, aliases, sensor precision) only when the poller's cache of them is
/// missing, old or invalidated by a reboot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollPlan {
    pub values: Vec<Request>,
    pub lookups: Vec<Request>,
}

/// The plan for a device's profiles, without repeats: a subtree walked for
/// one profile is not walked again for another, and the scalars of all of
/// them go in one GET; a lookup column that is also a value is read with the
/// values.
pub fn poll_plan(profiles: &[Arc<Profile>]) -> PollPlan {
    let mut value_walks = BTreeSet::new();
    let mut value_gets = BTreeSet::from([Oid(SYS_UPTIME.to_vec())]);
    let mut lookup_walks = BTreeSet::new();
    let mut lookup_gets = BTreeSet::new();
    for p in profiles {
        let (w, g) = p.columns(Part::Values);
        value_walks.extend(w);
        value_gets.extend(g);
        let (w, g) = p.columns(Part::Lookups);
        lookup_walks.extend(w);
        lookup_gets.extend(g);
    }
    lookup_walks.retain(|l| !value_walks.iter().any(|v| l.starts_with(v)));
    lookup_gets
        .retain(|l| !value_gets.contains(l) && !value_walks.iter().any(|v| l.starts_with(v)));
    PollPlan {
        values: profile::plan(value_walks, value_gets),
        lookups: profile::plan(lookup_walks, lookup_gets),
    }
}

pub struct Loaded {
    pub config: Config,
    pub profiles: Arc<ProfileSet>,
}

/// Reads `path` and the profiles of its `daemon.profile_dirs`; every
/// problem in either is returned, config problems first.
pub fn load(path: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    let mut loaded: Option<(ProfileSet, Vec<Diagnostic>)> = None;
    let config = config::load_with(path, |dirs| {
        let (set, diags) = ProfileSet::load(dirs);
        let mut names = set.names();
        // A broken user profile is reported as such, not again as an
        // unknown name at every device that uses it.
        names.extend(config::profile_names(dirs));
        names.sort();
        names.dedup();
        loaded = Some((set, diags));
        names
    });
    let (profiles, profile_diags) = loaded.unwrap_or_default();
    match config {
        Ok(config) if profile_diags.is_empty() => Ok(Loaded {
            config,
            profiles: Arc::new(profiles),
        }),
        Ok(_) => Err(profile_diags),
        Err(mut diags) => {
            diags.extend(profile_diags);
            Err(diags)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walks(requests: &[Request]) -> Vec<Oid> {
        requests
            .iter()
            .filter_map(|r| match r {
                Request::Walk(root) => Some(root.clone()),
                Request::Get(_) => None,
            })
            .collect()
    }

    #[test]
    fn overlapping_profiles_ask_once() {
        let (set, diags) = ProfileSet::load(&[]);
        assert!(diags.is_empty(), "{diags:?}");
        let twice = poll_plan(&set.select(&["if_mib".into(), "system".into(), "if_mib".into()]));
        let once = poll_plan(&set.select(&["if_mib".into(), "system".into()]));
        assert_eq!(twice, once);
        let all: Vec<Oid> = walks(&once.values)
            .into_iter()
            .chain(walks(&once.lookups))
            .collect();
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate() {
                assert!(i == j || !a.starts_with(b), "{a} is inside {b}");
            }
        }
    }

    #[test]
    fn interface_names_are_lookups_read_apart_from_the_counters() {
        let (set, _) = ProfileSet::load(&[]);
        let plan = poll_plan(&set.select(&["if_mib".into()]));
        let if_name: Oid = "1.3.6.1.2.1.31.1.1.1.1".parse().unwrap();
        let oper: Oid = "1.3.6.1.2.1.2.2.1.8".parse().unwrap();
        assert!(walks(&plan.lookups).contains(&if_name), "{plan:?}");
        assert!(walks(&plan.values).contains(&oper), "{plan:?}");
        assert!(!walks(&plan.values).contains(&if_name), "{plan:?}");
        let uptime = Oid(SYS_UPTIME.to_vec());
        assert!(plan
            .values
            .iter()
            .any(|r| matches!(r, Request::Get(g) if g.contains(&uptime))));
    }

    #[test]
    fn every_builtin_profile_name_is_shipped() {
        let (set, _) = ProfileSet::load(&[]);
        for name in config::builtin::BUILTIN_PROFILE_NAMES {
            assert!(set.get(name).is_some(), "{name} is named but not shipped");
        }
        assert_eq!(
            set.names().len(),
            config::builtin::BUILTIN_PROFILE_NAMES.len()
        );
    }
}
