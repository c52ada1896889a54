//! The year-end report (or any period's): the evaluation form first, then
//! every line and device, availability month by month, the incidents, the
//! maintenance windows and reclassifications, and how each figure was
//! computed with the ledger's chain head.
//!
//! * [`model`]: the report as data, one tree of `Serialize` structs shared
//!   by the API's JSON and every format.
//! * [`build`](Report::build): reads the store (a reader: works while the
//!   daemon runs, and on a backup copy) and fills the model.
//! * [`form`]: the evaluation form's rows from their sources, scores and
//!   drafted deviation analysis.
//! * [`i18n`]: every label and sentence in English and Chinese.
//! * [`formats`]: JSON, CSV, Markdown, XLSX and HTML renderings, written
//!   whole or not at all.
//! * [`indicators`]: the form year to date, for the daemon's metrics.

mod build;
pub mod form;
pub mod formats;
pub mod i18n;
pub mod indicators;
pub mod model;

pub use i18n::Lang;
pub use model::Report;

use model::Definition;

/// Told what the build is doing, step by step (the CLI prints it on a
/// terminal; the API ignores it).
pub trait Progress {
    fn step(&mut self, what: &str);
}

/// Progress nobody watches.
pub struct Silent;

impl Progress for Silent {
    fn step(&mut self, _what: &str) {}
}

/// The definitions the method section prints, in `lang`.
fn definitions(lang: Lang) -> Vec<Definition> {
    [
        "availability",
        "coverage",
        "pooled",
        "outage",
        "incident",
        "units_connected",
        "period",
    ]
    .into_iter()
    .map(|figure| Definition {
        figure,
        text: lang.t(&format!("def.{figure}")).to_string(),
    })
    .collect()
}
