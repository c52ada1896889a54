//! The embedded ledger: SQLite in WAL mode behind one narrow interface.
//! STUB: to be implemented (helper C).

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;

use crate::model::{State, TargetKind, Transition};

mod writer;
pub use writer::{spawn_writer, StoreStats, WriterHandle, WriterOptions};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Message(String),
}

pub struct Store {}

/// Every target's ledger over a period, keyed by (kind, name).
pub type Histories = BTreeMap<(TargetKind, String), Vec<(Timestamp, State)>>;

impl Store {
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let _ = data_dir;
        todo!()
    }
    pub fn open_reader(data_dir: &Path) -> Result<Store, StoreError> {
        let _ = data_dir;
        todo!()
    }
    pub fn last_heartbeat(&self) -> Result<Option<Timestamp>, StoreError> {
        todo!()
    }
    pub fn append(
        &mut self,
        batch: &[Transition],
        heartbeat: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let _ = (batch, heartbeat);
        todo!()
    }
    pub fn latest(&self) -> Result<Vec<Transition>, StoreError> {
        todo!()
    }
    pub fn histories(&self, from: Timestamp, to: Timestamp) -> Result<Histories, StoreError> {
        let _ = (from, to);
        todo!()
    }
}
