//! STUB: the single writer thread (helper C).
use std::sync::Arc;
use std::time::Duration;

use super::Store;
use crate::model::Transition;

pub struct WriterOptions {
    pub heartbeat_every: Duration,
    pub retry_every: Duration,
    pub buffer_limit: usize,
}

#[derive(Default)]
pub struct StoreStats {}

pub struct WriterHandle {}

pub fn spawn_writer(
    store: Store,
    opts: WriterOptions,
    stats: Arc<StoreStats>,
    announce: Box<dyn FnMut(&[Transition]) + Send>,
) -> WriterHandle {
    let _ = (store, opts, stats, announce);
    todo!()
}
