//! What the HTTP layer reads, handed to it by the daemon at start: the
//! config in force, the live view, the metrics and the health flags.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

use super::auth::BasicAuthCache;
use crate::config::Config;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::secret::Secret;
use crate::store::{StoreStats, WriterHandle};

/// The parts the HTTP layer reads. The daemon builds it and keeps a handle to
/// swap the config on a reload; nothing here depends on the daemon.
pub struct Shared {
    /// The config in force (swapped by a reload); the inventory in force is
    /// [`Live::inventory`].
    pub config: RwLock<Arc<Config>>,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
    pub store_stats: Arc<StoreStats>,
    /// False once the ledger task has ended (probing stopped).
    pub probing: Arc<AtomicBool>,
    /// Where acknowledgements and notes go to be written.
    pub writer: WriterHandle,
    /// The content of `daemon.api_token_file` (re-read on reload).
    pub api_token: RwLock<Option<Secret>>,
    /// Basic auth's verified (user, password) pairs, for a few minutes.
    pub basic_auth: BasicAuthCache,
}

impl Shared {
    /// The config in force now.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The bearer token writes need, when one is configured.
    pub fn api_token(&self) -> Option<Secret> {
        self.api_token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
