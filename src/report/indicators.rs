//! The evaluation form year to date: what the daemon recomputes every few
//! minutes and exports as `netkpi_indicator_*`, so a dashboard shows the
//! year so far and an alert fires when a row falls short of its target
//! mid-year. The same sources, rules and scores as the report's form
//! (the form module's `evaluate`), over `[start of the year, now)` in the
//! configured time zone.

use jiff::Timestamp;

use super::form::{self, Facts};
use super::i18n::Lang;
use super::model::Form;
use crate::availability::{self, Period, PeriodKind};
use crate::config::Config;
use crate::inventory::Inventory;
use crate::store::{IncidentQuery, Store, StoreError};

/// The form from the start of `now`'s year to `now`. `inventory` is the
/// one in force (the config's targets and windows with those declared
/// through the API); manual rows take the manual-entries file's values.
pub fn form_year_to_date(
    store: &Store,
    config: &Config,
    inventory: &Inventory,
    now: Timestamp,
) -> Result<Form, StoreError> {
    let tz = &config.daemon.timezone;
    let from = availability::year_start(now, tz);
    // Figures and incidents from one snapshot, as the report reads them.
    let (figures, incidents, energy) = store.snapshot(|store| {
        let figures = availability::availability(store, inventory, from, now, now)?;
        let incidents = store.incidents(&IncidentQuery {
            from: Some(from),
            to: Some(now),
            limit: usize::MAX,
            ..IncidentQuery::default()
        })?;
        let ytd = Period {
            kind: PeriodKind::Year,
            label: String::new(),
            from,
            to: now,
        };
        let energy = super::build::energy(store, &ytd.months(tz), tz)?;
        Ok((figures, incidents, energy))
    })?;
    let facts = Facts {
        // The drafted deviation text is not exported.
        lang: Lang::En,
        tz,
        inventory,
        planned: &config.planned,
        figures: &figures,
        incidents: &incidents,
        from,
        to: now,
        now,
        manual: &config.report.manual,
        energy: energy.as_ref(),
    };
    Ok(form::evaluate(&config.report, &facts))
}
