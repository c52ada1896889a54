//! The command line's definitions (clap derive), apart from what the
//! commands do (`super`): build.rs includes this file too, to write the man
//! pages and the shell completions the package installs from the same
//! definitions the binary parses with. So it names nothing of the crate but
//! `super::VERSION`, which both the crate and build.rs define.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::VERSION;

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
    /// Validate the config file, the files it includes or imports and the
    /// profiles it names; print what each file gave and the totals, or every
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
    /// with the stored one, then each incident's row with its chained
    /// events: exit 0 when intact, 1 naming the first record altered,
    /// deleted or inserted, 2 when the store cannot be checked.
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
        /// The incident's number (the `id` column of `incident list`).
        id: u64,
        /// Print the API's JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an open incident: you are on it (time to respond stops).
    Ack {
        /// The incident's number (the `id` column of `incident list`).
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
        /// The incident's number (the `id` column of `incident list`).
        id: u64,
        /// The note.
        text: String,
        /// Who writes it (default: the login name).
        #[arg(long)]
        by: Option<String>,
    },
}
