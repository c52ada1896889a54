//! The command line: `run`, `check`, `backup`, `verify`, `report`, `incident`,
//! `completions`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config;
use crate::loader;

/// `netkpi --version`: the release, and the commit it was built from with
/// that commit's date.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("NETKPI_COMMIT"),
    ", ",
    env!("NETKPI_COMMIT_DATE"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "netkpi",
    version = VERSION,
    about = "Availability ledger and KPI exporter for a WAN and its machine room"
)]
pub struct Cli {
    /// Log format: human-readable, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
    /// Log level or filter (e.g. `info`, `debug`, `netkpi=debug`); overrides RUST_LOG.
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// Where the config file is when `--config` and `NETKPI_CONFIG` do not say:
/// where the systemd unit and the package put it.
pub const DEFAULT_CONFIG: &str = "/etc/netkpi/netkpi.toml";

/// The config file option every command takes.
#[derive(Args, Debug)]
pub struct ConfigFile {
    /// The config file (TOML).
    #[arg(long, short, env = "NETKPI_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon in the foreground until SIGINT/SIGTERM; SIGHUP reloads
    /// the config.
    Run {
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Validate the config file and the profiles it names; print every
    /// problem with its file, line and column (exit 2).
    Check {
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Copy the ledger (consistently, while the daemon runs) to a file.
    Backup {
        #[command(flatten)]
        config: ConfigFile,
        /// The backup file; replaced whole (written beside it, then renamed).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Recompute the ledger's hash chain from its records and compare it
    /// with the stored one: exit 0 when intact, 1 naming the first record
    /// altered, deleted or inserted, 2 when the store cannot be checked.
    Verify {
        #[command(flatten)]
        config: ConfigFile,
        /// The store's directory, instead of the config's daemon.data_dir.
        #[arg(long, conflicts_with = "store")]
        data_dir: Option<PathBuf>,
        /// A store file (a backup copy), instead of the config's.
        store: Option<PathBuf>,
        /// A head copied elsewhere that the chain must pass through: the
        /// `head` label of netkpi_ledger_head_info (16 hex digits) or a whole
        /// head from the log or the API (64). Repeatable.
        #[arg(long = "expect-head", value_name = "HEX")]
        expect_head: Vec<String>,
    },
    /// Write the year-end report (or a month's, or any period's) from the
    /// store: the evaluation form first, then lines, devices, months,
    /// incidents, maintenance and the method. Reads the store while the
    /// daemon runs, or a backup copy (--store).
    #[command(group(clap::ArgGroup::new("period").required(true)))]
    Report {
        #[command(flatten)]
        config: ConfigFile,
        /// A calendar year in the configured time zone, e.g. 2020.
        #[arg(long, group = "period")]
        year: Option<String>,
        /// A calendar month, e.g. 2020-03.
        #[arg(long, group = "period")]
        month: Option<String>,
        /// The period's start: RFC 3339 (2020-01-01T00:00:00+08:00) or a
        /// local date (2020-01-01, local midnight); with --to.
        #[arg(long, group = "period", requires = "to")]
        from: Option<String>,
        /// The period's end (exclusive), written like --from.
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// json, csv (--out is a directory: one file per table), md, html
        /// or xlsx.
        #[arg(long, default_value = "json", value_parser = ["json", "csv", "md", "html", "xlsx"])]
        format: String,
        /// The language of headings, labels and drafted text.
        #[arg(long, default_value = "zh", value_parser = ["zh", "en"])]
        lang: String,
        /// Where to write: a file (json, md, html, xlsx; `-` for standard
        /// output) or a directory (csv). Written whole or not at all.
        #[arg(long, short)]
        out: PathBuf,
        /// A store file (a backup copy) instead of the config's data_dir.
        #[arg(long)]
        store: Option<PathBuf>,
    },
    /// List, show, acknowledge and annotate incidents through the running
    /// daemon's API.
    Incident {
        #[command(flatten)]
        config: ConfigFile,
        /// The daemon's API, e.g. http://127.0.0.1:9731 (default: from the
        /// config's daemon.listen).
        #[arg(long, global = true)]
        url: Option<String>,
        /// A file holding the API's bearer token (default: the config's
        /// daemon.api_token_file).
        #[arg(long, global = true)]
        token_file: Option<PathBuf>,
        #[command(subcommand)]
        action: IncidentAction,
    },
    /// Print a shell completion script, e.g.
    /// `netkpi completions bash > /etc/bash_completion.d/netkpi`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
pub enum IncidentAction {
    /// Incidents, newest first.
    List {
        /// `open` (not restored) or `all`.
        #[arg(long, default_value = "open")]
        state: String,
        /// Only this device's or line's.
        #[arg(long)]
        target: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue after a previous page (the `--cursor` it printed).
        #[arg(long)]
        cursor: Option<String>,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One incident with its notes, what it explains and its whole record.
    Show {
        id: u64,
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an open incident: you are on it (time to respond stops).
    Ack {
        id: u64,
        /// Who acknowledges (default: the login name).
        #[arg(long)]
        by: Option<String>,
        /// A note recorded with the acknowledgement.
        #[arg(long)]
        note: Option<String>,
    },
    /// Append a note to an incident (open or restored).
    Note {
        id: u64,
        /// The note.
        text: String,
        /// Who writes it (default: the login name).
        #[arg(long)]
        by: Option<String>,
    },
}

/// Exit status of `check` (and `run`) when the config is invalid.
const EXIT_CONFIG: u8 = 2;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check(&config.config),
        Command::Backup { config, out } => backup(&config.config, &out),
        Command::Verify {
            config,
            data_dir,
            store,
            expect_head,
        } => verify(&config.config, data_dir, store, &expect_head),
        Command::Report {
            config,
            year,
            month,
            from,
            to,
            format,
            lang,
            out,
            store,
        } => report(
            &config.config,
            crate::availability::PeriodArgs {
                year,
                month,
                from,
                to,
            },
            &format,
            &lang,
            &out,
            store.as_deref(),
        ),
        Command::Incident {
            config,
            url,
            token_file,
            action,
        } => match incident(
            &config.config,
            url.as_deref(),
            token_file.as_deref(),
            action,
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("netkpi: {err:#}");
                ExitCode::FAILURE
            }
        },
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "netkpi", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Run { config } => {
            init_logging(cli.log_format, cli.log_level.as_deref());
            run(&config.config)
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match loader::load(path) {
        Ok(loaded) => {
            println!("{}", config::summary(&loaded.config));
            ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            for d in &diagnostics {
                println!("{d}");
            }
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn backup(path: &std::path::Path, out: &std::path::Path) -> ExitCode {
    let loaded = match loader::load(path) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            eprintln!(
                "netkpi: the config has {} problem(s); no backup taken",
                diagnostics.len()
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match crate::store::backup(&loaded.config.daemon.data_dir, out) {
        Ok(report) => {
            println!(
                "ok: {} ({} bytes, {} transitions, latest {})",
                report.path.display(),
                report.bytes,
                report.transitions,
                report
                    .latest
                    .map_or_else(|| "none".to_string(), |t| t.to_string())
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("netkpi: backup failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Exit status of `verify` when the ledger was altered.
const EXIT_ALTERED: u8 = 1;

/// `netkpi report`: exit 0 when written, 2 for a bad config or period, 1
/// when the store cannot be read or the output cannot be written.
fn report(
    config: &std::path::Path,
    period: crate::availability::PeriodArgs,
    format: &str,
    lang: &str,
    out: &std::path::Path,
    store_file: Option<&std::path::Path>,
) -> ExitCode {
    use crate::report::formats::{self, Format};
    use crate::report::{Lang, Report};
    use crate::store::Store;
    use std::io::IsTerminal;

    let fail = |code: u8, message: String| {
        eprintln!("netkpi: {message}");
        ExitCode::from(code)
    };
    let loaded = match loader::load(config) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            return fail(
                EXIT_CONFIG,
                format!(
                    "the config has {} problem(s); no report written",
                    diagnostics.len()
                ),
            );
        }
    };
    let config = &loaded.config;
    let tz = &config.daemon.timezone;
    let (Some(format), Some(lang)) = (Format::parse(format), Lang::parse(lang)) else {
        return fail(EXIT_CONFIG, "unknown --format or --lang".to_string());
    };
    let now = jiff::Timestamp::now();
    let period = match period
        .resolve(tz, now)
        .and_then(|p| p.check_started(now, tz).map(|()| p))
    {
        Ok(p) => p,
        Err(e) => return fail(EXIT_CONFIG, e),
    };
    let opened = match store_file {
        Some(file) => Store::open_file_reader(file),
        None => Store::open_reader(&config.daemon.data_dir),
    };
    let store = match opened {
        Ok(store) => store,
        Err(e) => return fail(1, format!("cannot read the store: {e}")),
    };
    let mut progress = StderrProgress {
        on: std::io::stderr().is_terminal(),
    };
    let report = match Report::build(&store, config, &period, now, lang, &mut progress) {
        Ok(r) => r,
        Err(e) => return fail(1, format!("cannot read the store: {e}")),
    };
    progress.done();
    match formats::write(&report, format, lang, out) {
        Ok(written) => {
            for path in written {
                eprintln!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, format!("{e}; no report written")),
    }
}

/// Progress on standard error, on one line rewritten in place, only when
/// it is a terminal (not in a log or a pipe).
struct StderrProgress {
    on: bool,
}

impl crate::report::Progress for StderrProgress {
    fn step(&mut self, what: &str) {
        if self.on {
            eprint!("\r\x1b[2Kreport: {what}");
        }
    }
}

impl StderrProgress {
    fn done(&self) {
        if self.on {
            eprint!("\r\x1b[2K");
        }
    }
}

fn verify(
    config: &std::path::Path,
    data_dir: Option<PathBuf>,
    file: Option<PathBuf>,
    expect_head: &[String],
) -> ExitCode {
    use crate::store::{Store, StoreError, Verification};
    let mut expected = Vec::new();
    for head in expect_head {
        match crate::store::parse_head(head) {
            Ok(bytes) => expected.push(bytes),
            Err(e) => {
                eprintln!("netkpi: --expect-head {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    }
    // Times in the config's time zone when there is a config, else UTC.
    let (path, tz) = match (file, data_dir) {
        (Some(file), _) => (file, jiff::tz::TimeZone::UTC),
        (None, Some(dir)) => (dir.join(crate::store::DB_FILE), jiff::tz::TimeZone::UTC),
        (None, None) => match loader::load(config) {
            Ok(loaded) => (
                loaded.config.daemon.data_dir.join(crate::store::DB_FILE),
                loaded.config.daemon.timezone,
            ),
            Err(diagnostics) => {
                for d in &diagnostics {
                    eprintln!("{d}");
                }
                eprintln!(
                    "netkpi: the config has {} problem(s); nothing verified (or give --data-dir or a store file)",
                    diagnostics.len()
                );
                return ExitCode::from(EXIT_CONFIG);
            }
        },
    };
    let time = |t: Option<jiff::Timestamp>| {
        t.map_or_else(|| "-".to_string(), |t| crate::model::format_time(t, &tz))
    };
    let store = match Store::open_file_reader(&path) {
        Ok(store) => store,
        Err(err) => {
            eprintln!("netkpi: cannot verify: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match store.verify(&expected) {
        Ok(Verification::Intact {
            records,
            head,
            at,
            genesis,
            seen,
        }) => {
            println!("ok: {records} records, head {}", crate::store::hex(&head));
            if records > 0 {
                println!("latest record committed {}", time(at));
            }
            if let Some(g) = genesis {
                println!(
                    "note: the chain began at {}, when this store was migrated to a netkpi that                      keeps it: its first {} records were chained then, in table and row order,                      not as each was committed; a change made to them before then cannot be detected",
                    time(g.at),
                    g.records
                );
            }
            for s in seen {
                println!(
                    "head {} found: the chain passes through it at record {}",
                    s.hex, s.record
                );
            }
            ExitCode::SUCCESS
        }
        Ok(Verification::Altered { problem, intact }) => {
            println!("altered: {problem}");
            println!("(the first {intact} chained records are intact)");
            ExitCode::from(EXIT_ALTERED)
        }
        // A file too damaged to read is not intact.
        Err(err @ StoreError::Corrupt { .. }) => {
            println!("altered: {err}");
            ExitCode::from(EXIT_ALTERED)
        }
        Err(err) => {
            eprintln!("netkpi: cannot verify: {err}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// The login name, for `--by` when not given.
fn login_name() -> Option<String> {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

fn incident(
    config: &std::path::Path,
    url: Option<&str>,
    token_file: Option<&std::path::Path>,
    action: IncidentAction,
) -> anyhow::Result<()> {
    use crate::client::{expect_ok, print_detail, print_list, Endpoint};
    use serde_json::json;
    let endpoint = Endpoint::resolve(url, token_file, || {
        let loaded = loader::load(config).map_err(|diagnostics| {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            anyhow::anyhow!(
                "the config {} has {} problem(s); pass --url to reach the daemon without it",
                config.display(),
                diagnostics.len()
            )
        })?;
        let daemon = loaded.config.daemon;
        Ok((daemon.listen, daemon.api_token_file))
    })?;
    let by = |by: Option<String>| {
        by.or_else(login_name).ok_or_else(|| {
            anyhow::anyhow!("say who you are with --by NAME (no login name in the environment)")
        })
    };
    match action {
        IncidentAction::List {
            state,
            target,
            limit,
            cursor,
            json,
        } => {
            let mut path = format!("/api/v1/incidents?state={}&limit={limit}", encode(&state));
            if let Some(t) = target {
                path.push_str(&format!("&target={}", encode(&t)));
            }
            if let Some(c) = cursor {
                path.push_str(&format!("&cursor={}", encode(&c)));
            }
            let doc = expect_ok(endpoint.call("GET", &path, None)?)?;
            if json {
                println!("{doc:#}");
            } else {
                print_list(&doc);
            }
        }
        IncidentAction::Show { id, json } => {
            let doc = expect_ok(endpoint.call("GET", &format!("/api/v1/incidents/{id}"), None)?)?;
            if json {
                println!("{doc:#}");
            } else {
                print_detail(&doc);
            }
        }
        IncidentAction::Ack { id, by: who, note } => {
            let body = json!({ "by": by(who)?, "note": note });
            let doc = expect_ok(endpoint.call(
                "POST",
                &format!("/api/v1/incidents/{id}/ack"),
                Some(&body),
            )?)?;
            println!(
                "acknowledged incident #{id} ({} {}) at {}",
                doc["kind"].as_str().unwrap_or("-"),
                doc["target"].as_str().unwrap_or("-"),
                doc["acknowledged_at"].as_str().unwrap_or("-")
            );
        }
        IncidentAction::Note { id, text, by: who } => {
            let body = json!({ "by": by(who)?, "text": text });
            expect_ok(endpoint.call(
                "POST",
                &format!("/api/v1/incidents/{id}/notes"),
                Some(&body),
            )?)?;
            println!("note added to incident #{id}");
        }
    }
    Ok(())
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn run(path: &std::path::Path) -> ExitCode {
    let loaded = match loader::load(path) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            eprintln!(
                "netkpi: the config has {} problem(s); nothing was started",
                diagnostics.len()
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    limit_malloc_arenas();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("netkpi: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(crate::daemon::run(path, loaded)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("netkpi: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// glibc gives every thread that allocates its own malloc arena (up to 8 per
/// core), each holding freed memory of its own: measured with 10,000 devices,
/// that was 10-15 MB of RSS for nothing (bench/icmp.sh). Two arenas keep
/// allocation contention low for a daemon whose hot paths are a few tasks.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn init_logging(format: LogFormat, level: Option<&str>) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
