//! Names the commit a binary was built from, for `netkpi --version` and the
//! `netkpi_build_info` metric: an auditor can tell which code computed a
//! figure. Outside a git checkout (a source tarball) both say `unknown`.

use std::process::Command;

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
}
