//! Reads the config file and every SNMP profile it may name, as one step:
//! `netkpi check`, `netkpi run` and a reload all go through [`load`], so a
//! broken profile is reported exactly like a broken config key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{self, Config, Diagnostic};
use crate::probes::snmp::client::Request;
use crate::probes::snmp::profile::{self, Profile};

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

/// Everything one poll of these profiles asks for, without repeats: a
/// subtree walked for one profile is not walked again for another, and the
/// scalars of all of them go in one GET.
pub fn requests(profiles: &[Arc<Profile>]) -> Vec<Request> {
    let mut walks = Vec::new();
    let mut gets = Vec::new();
    for p in profiles {
        for r in p.requests() {
            match r {
                Request::Walk(root) => walks.push(root),
                Request::Get(oids) => gets.extend(oids),
            }
        }
    }
    walks.sort();
    walks.dedup();
    // A subtree inside another one is already walked.
    let covered = walks.clone();
    walks.retain(|w| !covered.iter().any(|c| c != w && w.starts_with(c)));
    gets.sort();
    gets.dedup();
    gets.retain(|g| !walks.iter().any(|w| g.starts_with(w)));
    let mut out: Vec<Request> = walks.into_iter().map(Request::Walk).collect();
    if !gets.is_empty() {
        out.push(Request::Get(gets));
    }
    out
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

    #[test]
    fn overlapping_profiles_ask_once() {
        let (set, diags) = ProfileSet::load(&[]);
        assert!(diags.is_empty(), "{diags:?}");
        let both = set.select(&["if_mib".into(), "system".into(), "if_mib".into()]);
        let once = requests(&set.select(&["if_mib".into(), "system".into()]));
        assert_eq!(requests(&both), once);
        let walks: Vec<_> = once
            .iter()
            .filter_map(|r| match r {
                Request::Walk(root) => Some(root.clone()),
                Request::Get(_) => None,
            })
            .collect();
        for (i, a) in walks.iter().enumerate() {
            for (j, b) in walks.iter().enumerate() {
                assert!(i == j || !a.starts_with(b), "{a} is inside {b}");
            }
        }
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
