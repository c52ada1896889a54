//! Names the commit a binary was built from, for `netkpi --version` and the
//! `netkpi_build_info` metric: an auditor can tell which code computed a
//! figure. Outside a git checkout (a source tarball) both say `unknown`.
//!
//! Also writes the man pages and the bash, zsh and fish completions from the
//! command line's own clap definitions (`src/cli/args.rs`, included here),
//! so they never disagree with the binary. They go to
//! `target/<profile>/assets/{man,completions}`, beside the binary rather
//! than in the hashed `OUT_DIR`, because the Debian package
//! (`[package.metadata.deb]` in Cargo.toml) names them by a fixed path and
//! `cargo deb` must stay one command.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;

/// The clap definitions the binary parses with. Their doc comments and
/// field names are all build.rs reads; the types are never constructed here.
#[allow(dead_code)]
#[path = "src/cli/args.rs"]
mod args;

/// `super::VERSION` for `args`: the man pages name the release.
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // The commit's date, not the build's: the same commit builds the same
    // version string.
    let date = git(&["log", "-1", "--format=%cs"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=NETKPI_COMMIT={commit}");
    println!("cargo:rustc-env=NETKPI_COMMIT_DATE={date}");
    // Built again when HEAD moves: the branch it points at, or HEAD itself.
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
        println!("cargo:rerun-if-changed={git_dir}/packed-refs");
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={git_dir}/{branch}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/cli/args.rs");

    let assets = assets_dir();
    if let Err(err) = write_assets(&assets, &date) {
        panic!(
            "cannot write the man pages and completions to {}: {err}",
            assets.display()
        );
    }
}

/// `target/<profile>/assets` (with `--target`, `target/<triple>/<profile>/assets`):
/// OUT_DIR is `<that profile dir>/build/netkpi-<hash>/out`.
fn assets_dir() -> PathBuf {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    out.ancestors()
        .nth(3)
        .expect("OUT_DIR is <profile dir>/build/<crate>-<hash>/out")
        .join("assets")
}

/// Writes `man/netkpi.1.gz` with a page for each subcommand (`netkpi-run.1.gz`,
/// `netkpi-incident-ack.1.gz`, ...) and `completions/{netkpi.bash,_netkpi,netkpi.fish}`.
/// Each folder is written whole under a temporary name and then put in place
/// of the old one, so a removed subcommand leaves no stale page and a failed
/// build no half-written file.
fn write_assets(assets: &Path, date: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(assets)?;
    let cli = args::Cli::command();

    replace_dir(&assets.join("man"), |dir| {
        let mut cli = cli.clone().disable_help_subcommand(true);
        // Full names (`netkpi-incident-ack`) for the subcommands' pages.
        cli.build();
        man_pages(&cli, dir, date, MAN_EXTRA)
    })?;

    replace_dir(&assets.join("completions"), |dir| {
        use clap_complete::Shell;
        for (shell, file) in [
            (Shell::Bash, "netkpi.bash"),
            (Shell::Zsh, "_netkpi"),
            (Shell::Fish, "netkpi.fish"),
        ] {
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut cli.clone(), "netkpi", &mut text);
            std::fs::write(dir.join(file), text)?;
        }
        Ok(())
    })
}

/// Writes the page of `cmd` (with `extra` roff at its end) and of each of
/// its visible subcommands, recursively, dated with the commit's date so the
/// same commit gives the same pages.
fn man_pages(cmd: &clap::Command, dir: &Path, date: &str, extra: &str) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        man_pages(sub, dir, date, "")?;
    }
    let man = clap_mangen::Man::new(cmd.clone()).date(date);
    let mut page = Vec::new();
    man.render(&mut page)?;
    page.extend_from_slice(extra.as_bytes());
    // Gzipped, as Debian installs man pages (cargo deb compresses only the
    // files it does not take from target/). No time stamp in the header: the
    // same commit gives the same bytes.
    let file = std::fs::File::create(dir.join(format!("{}.gz", man.get_filename())))?;
    let mut gz = flate2::GzBuilder::new().write(file, flate2::Compression::best());
    gz.write_all(&page)?;
    gz.finish()?.sync_all()
}

/// Fills a fresh temporary folder beside `dir` with `fill`, then renames it
/// to `dir`, replacing the old one.
fn replace_dir(dir: &Path, fill: impl FnOnce(&Path) -> std::io::Result<()>) -> std::io::Result<()> {
    let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    fill(&tmp)?;
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::rename(&tmp, dir)
}

/// Sections of `netkpi(1)` that clap does not know: files, environment,
/// exit status, related pages (roff).
const MAN_EXTRA: &str = r#".SH "EXIT STATUS"
0 on success; 2 when the config has problems (each printed as
FILE:LINE:COL: path: message) or there is nothing to check; 1 on other
failures, and from \fBverify\fR when the ledger was altered.
.SH ENVIRONMENT
.TP
\fBNETKPI_CONFIG\fR
The config file when \fB--config\fR is not given.
.TP
\fBRUST_LOG\fR
The log filter when \fB--log-level\fR is not given (default \fBinfo\fR).
.SH FILES
.TP
\fI/etc/netkpi/netkpi.toml\fR
The config file (the default of \fB--config\fR).
.TP
\fI/var/lib/netkpi\fR
The ledger (\fBdaemon.data_dir\fR in the packaged config), owned by the
system user \fBnetkpi\fR.
.TP
\fI/var/lib/netkpi-backup\fR
The nightly copies written by \fBnetkpi-backup.timer\fR.
.TP
\fI/usr/share/doc/netkpi/README.md\fR
The full manual: config reference, API, metrics, what the figures mean.
.TP
\fI/usr/share/netkpi\fR
Grafana dashboards and Prometheus and Alertmanager examples.
.SH "SEE ALSO"
\fBnetkpi-run\fR(1), \fBnetkpi-check\fR(1), \fBnetkpi-backup\fR(1),
\fBnetkpi-verify\fR(1), \fBnetkpi-report\fR(1), \fBnetkpi-incident\fR(1),
\fBsystemctl\fR(1),
\fBjournalctl\fR(1)
"#;
