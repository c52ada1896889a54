//! Reads the config file and every SNMP profile it may name, as one step:
//! `netkpi check`, `netkpi run` and a reload all go through [`load`], so a
//! broken profile is reported exactly like a broken config key.
//!
//! The config file alone is read by [`crate::config::load`]; this module
//! adds the profiles ([`ProfileSet`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{self, Config, KnownMetric, KnownProfiles};
use crate::diag::Diagnostic;
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

    /// Each profile's metrics with their labels, as alarms are checked
    /// against them.
    pub fn metrics(&self) -> BTreeMap<String, Vec<KnownMetric>> {
        self.by_name
            .iter()
            .map(|(name, p)| {
                let metrics = p
                    .metric_labels()
                    .into_iter()
                    .map(|(metric, labels)| KnownMetric {
                        name: metric.to_string(),
                        labels: labels.into_iter().map(str::to_string).collect(),
                    })
                    .collect();
                (name.clone(), metrics)
            })
            .collect()
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
        // unknown name at every device that uses it (nor are alarms on
        // its metrics: they are not known).
        names.extend(config::profile_names(dirs));
        names.sort();
        names.dedup();
        let known = KnownProfiles {
            names,
            metrics: set.metrics(),
        };
        loaded = Some((set, diags));
        known
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
