//! The command line: `run`, `check`, `backup`, `verify`, `report`, `incident`,
//! `completions`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::config;
use crate::loader;

mod args;

pub use args::{Cli, Command, ConfigFile, IncidentAction, LogFormat, DEFAULT_CONFIG};

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
        Command::Run { config } => run(&config.config, cli.log_format, cli.log_level.as_deref()),
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match loader::load(path) {
        Ok(loaded) => {
            for line in config::report(&loaded.config) {
                println!("{line}");
            }
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
/// when the store cannot be read, holds nothing recorded for the period, or
/// the output cannot be written.
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
    if format == Format::Csv && out == std::path::Path::new("-") {
        return fail(
            EXIT_CONFIG,
            format!("{}; no report written", formats::CSV_TO_STDOUT),
        );
    }
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
    let store_path = match store_file {
        Some(file) => file.to_path_buf(),
        None => config.daemon.data_dir.join(crate::store::DB_FILE),
    };
    let mut progress = StderrProgress {
        on: std::io::stderr().is_terminal(),
    };
    let report = match Report::build(&store, config, &period, now, lang, &mut progress) {
        Ok(r) => r,
        Err(e) => return fail(1, format!("cannot read the store: {e}")),
    };
    progress.done();
    if report.notice.is_some() && report.energy.is_none() {
        // No transition, no incident and no energy in the period: unknown
        // figures for every row are no report. The same exit as a store
        // that cannot be read, and no file.
        return fail(
            1,
            format!(
                "nothing was recorded for {} ({} to {}) in the store {}; no report written",
                report.period.label,
                report.period.from,
                report.period.to,
                store_path.display()
            ),
        );
    }
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
                    "note: the chain began at {}, when this store was migrated to a netkpi that \
                     keeps it: its first {} records were chained then, in table and row order, \
                     not as each was committed; a change made to them before then cannot be \
                     detected",
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

/// Logging starts once the config is read, so that log lines are stamped in
/// its time zone, like the API's times (a broken config is reported on
/// stderr before that).
fn run(path: &std::path::Path, log_format: LogFormat, log_level: Option<&str>) -> ExitCode {
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
    init_logging(log_format, log_level, loaded.config.daemon.timezone.clone());
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

/// Log lines stamped like the API's times: RFC 3339 in the configured time
/// zone with its offset, to the millisecond (`2026-03-01T08:00:00.000+08:00`),
/// so a log line and an API time can be compared as written.
struct ZonedTime(jiff::tz::TimeZone);

impl tracing_subscriber::fmt::time::FormatTime for ZonedTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(
            w,
            "{}",
            crate::model::format_time(jiff::Timestamp::now(), &self.0)
        )
    }
}

fn init_logging(format: LogFormat, level: Option<&str>, tz: jiff::tz::TimeZone) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(ZonedTime(tz))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every subcommand and every argument (options and positionals, at every
    /// depth) says what it is in `--help`, and so in the man pages and the
    /// completions generated from the same definitions.
    #[test]
    fn every_command_and_argument_has_help() {
        let mut cli = Cli::command();
        cli.build();
        let mut missing = Vec::new();
        let mut stack = vec![(String::from("netkpi"), &cli)];
        while let Some((path, cmd)) = stack.pop() {
            if cmd.get_about().is_none() && cmd.get_long_about().is_none() {
                missing.push(path.clone());
            }
            for arg in cmd.get_arguments() {
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} <{}>", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                stack.push((format!("{path} {}", sub.get_name()), sub));
            }
        }
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }
}
