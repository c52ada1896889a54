//! The ledger's schema and its forward migrations.
//!
//! The schema version lives in SQLite's `PRAGMA user_version`, which is part
//! of the database header and so changes in the same transaction as the
//! migration that sets it. `MIGRATIONS[i]` takes a database from version `i`
//! to `i + 1`; entries are only ever appended, never edited, because a
//! released binary may already have applied them to an auditor's ledger.

/// v1: the initial ledger.
///
/// `transitions` is append-only; its `id` is the insertion order, which is
/// the order readers must follow (the wall clock may step backwards, `at_ms`
/// may not be monotonic). No CHECK on `state`: a constraint that rejects a
/// row would turn one bad transition into a write error retried forever,
/// blocking every transition queued behind it; readers reject unknown words.
const V1: &str = "
CREATE TABLE transitions (
    id     INTEGER PRIMARY KEY,
    target TEXT    NOT NULL,
    kind   TEXT    NOT NULL,
    at_ms  INTEGER NOT NULL,
    state  TEXT    NOT NULL,
    cause  TEXT
);
-- The state of one target at a given time (histories), and its latest row.
CREATE INDEX transitions_by_target ON transitions (kind, target, at_ms);
-- Everything inside a period (audits, histories).
CREATE INDEX transitions_by_time ON transitions (at_ms);

-- The last instant the daemon was known to be recording (single row).
CREATE TABLE heartbeat (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    at_ms INTEGER NOT NULL
);

-- One row per daemon run, so an audit can tell \"not running\" from \"not observed\".
CREATE TABLE daemon_runs (
    id         INTEGER PRIMARY KEY,
    started_ms INTEGER NOT NULL,
    stopped_ms INTEGER,
    version    TEXT    NOT NULL
);

-- Facts about the file itself: when it was created and last opened, by which version.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// v2: each target's tally: milliseconds per state as far as the ledger
/// holds them (the `netkpi_state_seconds_total` counters), written in the
/// same transaction as the transitions and settled marks they count, so the
/// counters survive a crash exactly and never go back. `until_ms` is also
/// where the unknown gap after a crash begins for that target: a heartbeat
/// says the daemon was alive, a tally says how far one target's latest
/// recorded state was certain (never into a run still being confirmed).
/// Rewritten in place: only the latest matters.
const V2: &str = "
CREATE TABLE tallies (
    kind           TEXT    NOT NULL,
    target         TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    until_ms       INTEGER NOT NULL,
    up_ms          INTEGER NOT NULL,
    degraded_ms    INTEGER NOT NULL,
    down_ms        INTEGER NOT NULL,
    unknown_ms     INTEGER NOT NULL,
    maintenance_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, target)
);
";

/// v3: incidents. `incident_events` is the append-only record (opened,
/// restored, reopened, relinked, acknowledged, note), written in the same
/// transaction as the transition or request that caused it; `incidents` is
/// each incident's current view of those events, rewritten in that same
/// transaction, so queries need not replay them. `alarm` names the alarm
/// of an alarm incident (NULL: the target went down). The deadlines are
/// those in force when it opened: a later config does not re-judge it.
const V3: &str = "
CREATE TABLE incidents (
    id                INTEGER PRIMARY KEY,
    kind              TEXT    NOT NULL,
    target            TEXT    NOT NULL,
    alarm             TEXT,
    severity          TEXT    NOT NULL,
    cause             TEXT,
    opened_ms         INTEGER NOT NULL,
    acknowledged_ms   INTEGER,
    acknowledged_by   TEXT,
    restored_ms       INTEGER,
    root_id           INTEGER,
    flaps             INTEGER NOT NULL,
    planned           INTEGER NOT NULL,
    respond_within_ms INTEGER NOT NULL,
    restore_within_ms INTEGER NOT NULL
);
CREATE INDEX incidents_by_target ON incidents (kind, target, id);
CREATE INDEX incidents_by_root ON incidents (root_id) WHERE root_id IS NOT NULL;
CREATE INDEX incidents_open ON incidents (id) WHERE restored_ms IS NULL;
CREATE INDEX incidents_by_restored ON incidents (restored_ms);

CREATE TABLE incident_events (
    id       INTEGER PRIMARY KEY,
    incident INTEGER NOT NULL,
    at_ms    INTEGER NOT NULL,
    event    TEXT    NOT NULL,
    by       TEXT,
    text     TEXT,
    root_id  INTEGER,
    cause    TEXT
);
CREATE INDEX incident_events_by_incident ON incident_events (incident, id);
";

/// v4: planned windows an operator declared through the API (the config's
/// own windows live in the config). A window whose start precedes its
/// creation reclassifies time already recorded: the transitions stay as
/// they were, the figures read that span as maintenance, and this row says
/// who did it, when and why. Append-only.
const V4: &str = "
CREATE TABLE maintenance_windows (
    id         INTEGER PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    start_ms   INTEGER NOT NULL,
    end_ms     INTEGER NOT NULL
);
-- The names as the operator gave them (a device's window covers its lines).
CREATE TABLE maintenance_targets (
    window INTEGER NOT NULL,
    target TEXT    NOT NULL
);
CREATE INDEX maintenance_targets_by_window ON maintenance_targets (window);
";

/// v5: the hash chain over the records the figures come from (see
/// `chain.rs` for what is chained and the exact encoding). One row per
/// record, in commit order, appended in the transaction that writes the
/// record: `source` names its table, `ref` its rowid there, `committed_ms`
/// the commit's time, `hash` SHA-256 of the previous row's hash, the record
/// and that time. The migration also chains the rows already there (in
/// Rust, right after this SQL, in the same transaction). Append-only.
const V5: &str = "
CREATE TABLE chain (
    seq          INTEGER PRIMARY KEY,
    source       TEXT    NOT NULL,
    ref          INTEGER NOT NULL,
    committed_ms INTEGER NOT NULL,
    hash         BLOB    NOT NULL
);
";

/// v6: energy each UPS delivered, per device and local day (the
/// `daemon.timezone` day, `YYYY-MM-DD`), metered from its polled output
/// power. `wh` is watt-hours (volt-ampere-hours for the part integrated
/// from apparent power), `covered_ms` the time of the day integrated,
/// `apparent_ms` the part of it from volts × amperes, `day_ms` the day's
/// length (23 or 25 h where daylight saving time changes). The writer adds
/// to a day's row at each commit: a running total, not chained (like
/// `tallies`).
const V6: &str = "
CREATE TABLE energy_days (
    device      TEXT    NOT NULL,
    day         TEXT    NOT NULL,
    wh          REAL    NOT NULL,
    covered_ms  INTEGER NOT NULL,
    apparent_ms INTEGER NOT NULL,
    day_ms      INTEGER NOT NULL,
    PRIMARY KEY (device, day)
);
CREATE INDEX energy_days_by_day ON energy_days (day);
";

/// v7: the incident figures (counters and histograms of every incident
/// ever recorded: `figures.rs`), kept up to date in the transaction that
/// writes each incident change, so a start need not read every incident.
/// `missed` marks the deadlines of an incident those figures count as
/// missed (1: respond, 2: restore). The migration fills them from the
/// incidents already there (in Rust, right after this SQL, in the same
/// transaction).
const V7: &str = "
ALTER TABLE incidents ADD COLUMN missed INTEGER NOT NULL DEFAULT 0;
CREATE TABLE incident_figures (
    figure TEXT    NOT NULL,
    kind   TEXT    NOT NULL,
    key    TEXT    NOT NULL,
    value  INTEGER NOT NULL,
    PRIMARY KEY (figure, kind, key)
) WITHOUT ROWID;
";

/// Every migration in order; the schema version is the number applied.
pub(super) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7];

/// The newest schema version this binary knows.
pub(super) const VERSION: i64 = MIGRATIONS.len() as i64;
