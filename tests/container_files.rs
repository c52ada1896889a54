//! The container files, checked without a container engine (none runs on
//! the machines this project is built and tested on): `deploy/Dockerfile`,
//! `deploy/compose.yaml` and what they name. Every file a COPY, a bind
//! mount or a secret names exists; what the binary compiles in is in the
//! build context; every port agrees between the netkpi config, the
//! Dockerfile, compose, Prometheus's scrape and alerting targets, Grafana's
//! data source and the README; every path a service is told to read is
//! where compose mounts it. The configs themselves are checked by their own
//! tools (`netkpi check`, `promtool check config`), and the container's
//! netkpi config is run for real, in a private network namespace.
//!
//! Needs promtool (Debian package `prometheus`), installed by tests/run.sh.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn deploy() -> PathBuf {
    repo().join("deploy")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(path: &Path) -> Value {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `a/b/../c` → `a/c`, without touching the file system (the path may be
/// one a container sees).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v:?}"))
}

fn list<'a>(v: &'a Value, what: &str) -> &'a [Value] {
    v.as_sequence()
        .unwrap_or_else(|| panic!("{what} is not a list: {v:?}"))
}

/// The Dockerfile as instructions: continuation lines joined, comments and
/// blank lines dropped; (INSTRUCTION, arguments).
fn dockerfile() -> Vec<(String, String)> {
    let text = read(&deploy().join("Dockerfile"));
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (instruction, args) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((instruction.to_ascii_uppercase(), args.trim().to_string()));
                current.clear();
            }
        }
    }
    assert!(current.is_empty(), "the Dockerfile ends in a continuation");
    out
}

/// A compose service's short-syntax volumes as (source, target).
fn mounts(service: &Value, name: &str) -> Vec<(String, String)> {
    list(&service["volumes"], &format!("{name}.volumes"))
        .iter()
        .map(|v| {
            let spec = str_of(v, "a volume");
            let mut parts = spec.split(':');
            let source = parts.next().expect("source").to_string();
            let target = parts
                .next()
                .unwrap_or_else(|| panic!("{name}: volume {spec} has no target"))
                .to_string();
            (source, target)
        })
        .collect()
}

/// The host file or folder a bind mount's source names (relative to
/// deploy/, where compose.yaml is); None for a named volume.
fn bind_source(source: &str) -> Option<PathBuf> {
    (source.starts_with('.') || source.starts_with('/')).then(|| normalize(&deploy().join(source)))
}

/// The container ports a service publishes, each checked to be published
/// on the host's loopback under the same number.
fn published(service: &Value, name: &str) -> BTreeSet<u16> {
    list(&service["ports"], &format!("{name}.ports"))
        .iter()
        .map(|p| {
            let spec = str_of(p, "a port");
            let parts: Vec<&str> = spec.split(':').collect();
            assert_eq!(parts.len(), 3, "{name}: {spec} names no host address");
            assert_eq!(
                parts[0], "127.0.0.1",
                "{name}: {spec} is published beyond loopback"
            );
            assert_eq!(parts[1], parts[2], "{name}: {spec} changes the port number");
            parts[2].parse().expect("a port number")
        })
        .collect()
}

/// `--flag=value` from a service's command list.
fn flag<'a>(service: &'a Value, name: &str, flag: &str) -> Option<&'a str> {
    list(&service["command"], &format!("{name}.command"))
        .iter()
        .find_map(|a| {
            str_of(a, "an argument")
                .strip_prefix(flag)?
                .strip_prefix('=')
        })
}

/// The port of the `host:PORT` target among a static config's `targets`.
fn target_port(targets: &Value, host: &str) -> u16 {
    let all: Vec<&str> = list(targets, "targets")
        .iter()
        .map(|t| str_of(t, "a target"))
        .collect();
    let port = all
        .iter()
        .find_map(|t| t.strip_prefix(host)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {host}:PORT among {all:?}"));
    port.parse().expect("a port number")
}

#[test]
fn the_container_files_name_files_that_exist_and_agree_on_every_port() {
    let compose = yaml(&deploy().join("compose.yaml"));
    let services = compose["services"]
        .as_mapping()
        .expect("compose.yaml has services");
    let names: BTreeSet<&str> = services.keys().map(|k| str_of(k, "a name")).collect();
    assert_eq!(
        names,
        BTreeSet::from(["alertmanager", "grafana", "netkpi", "prometheus"])
    );
    let service = |name: &str| &compose["services"][name];
    let declared_volumes: BTreeSet<&str> = compose["volumes"]
        .as_mapping()
        .expect("top-level volumes")
        .keys()
        .map(|k| str_of(k, "a volume name"))
        .collect();

    // Every bind mount exists; every named volume is declared; each
    // service's mounts by target, for the checks below.
    let mut mounted: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for name in &names {
        for (source, target) in mounts(service(name), name) {
            match bind_source(&source) {
                Some(path) => assert!(
                    path.exists(),
                    "{name}: {source} ({}) does not exist",
                    path.display()
                ),
                None => assert!(
                    declared_volumes.contains(source.as_str()),
                    "{name}: volume {source} is not declared"
                ),
            }
            mounted.entry(name).or_default().insert(target, source);
        }
    }
    let source_of = |service: &str, target: &str| -> String {
        mounted[service]
            .get(target)
            .unwrap_or_else(|| panic!("{service}: nothing is mounted at {target}"))
            .clone()
    };

    // netkpi: its image, its config, its secret, its port.
    let netkpi = service("netkpi");
    let context = normalize(&deploy().join(str_of(&netkpi["build"]["context"], "build.context")));
    assert_eq!(
        context,
        normalize(repo()),
        "the build context is the repository"
    );
    let dockerfile_path = context.join(str_of(&netkpi["build"]["dockerfile"], "build.dockerfile"));
    assert_eq!(dockerfile_path, deploy().join("Dockerfile"));
    let config_source = source_of("netkpi", "/etc/netkpi/netkpi.toml");
    let config_path = bind_source(&config_source).expect("the config is a file");
    let config: toml::Table = read(&config_path)
        .parse()
        .expect("the container config is TOML");
    let daemon = config["daemon"].as_table().expect("[daemon]");
    let listen: std::net::SocketAddr = daemon["listen"]
        .as_str()
        .expect("listen")
        .parse()
        .expect("listen is IP:PORT");
    assert!(
        listen.ip().is_unspecified(),
        "{listen}: Prometheus, in another container, must reach it"
    );
    let netkpi_port = listen.port();
    assert_eq!(published(netkpi, "netkpi"), BTreeSet::from([netkpi_port]));
    let data_dir = daemon["data_dir"].as_str().expect("data_dir");
    assert!(
        declared_volumes.contains(source_of("netkpi", data_dir).as_str()),
        "the ledger ({data_dir}) is on a named volume"
    );
    let token = daemon["api_token_file"].as_str().expect("api_token_file");
    let secret = token
        .strip_prefix("/run/secrets/")
        .unwrap_or_else(|| panic!("{token}: not a compose secret"));
    assert!(
        list(&netkpi["secrets"], "netkpi.secrets")
            .iter()
            .any(|s| str_of(s, "a secret") == secret),
        "netkpi is not given the secret {secret}"
    );
    let token_file = bind_source(str_of(&compose["secrets"][secret]["file"], "secret file"))
        .expect("the secret is a file");
    assert!(token_file.is_file(), "{}", token_file.display());
    let caps: BTreeSet<&str> = list(&netkpi["cap_add"], "cap_add")
        .iter()
        .map(|c| str_of(c, "a capability"))
        .collect();
    assert_eq!(caps, BTreeSet::from(["NET_BIND_SERVICE", "NET_RAW"]));
    assert_eq!(
        list(&netkpi["cap_drop"], "cap_drop")[0].as_str(),
        Some("ALL")
    );

    // The Dockerfile: two stages on Debian 12, every COPY source in the
    // build context and not ignored, what the code compiles in copied, a
    // non-root user with the ICMP capability, the config and port above.
    let instructions = dockerfile();
    let froms: Vec<&str> = instructions
        .iter()
        .filter(|(i, _)| i == "FROM")
        .map(|(_, a)| a.as_str())
        .collect();
    assert_eq!(
        froms.len(),
        2,
        "a build stage and a runtime stage: {froms:?}"
    );
    assert!(
        froms[0].contains("-bookworm") && froms[0].ends_with(" AS build"),
        "{}",
        froms[0]
    );
    assert_eq!(froms[1], "debian:bookworm-slim");
    let ignored: Vec<String> = read(&repo().join(".dockerignore"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    assert!(
        ignored.iter().any(|l| l == "target"),
        "the build output stays out of the context"
    );
    let mut copied = Vec::new();
    let mut copied_to = Vec::new();
    for (_, args) in instructions.iter().filter(|(i, _)| i == "COPY") {
        let words: Vec<&str> = args.split_whitespace().collect();
        let (dest, sources) = words.split_last().expect("COPY has a destination");
        if let Some(stage) = sources[0].strip_prefix("--from=") {
            assert_eq!(stage, "build", "COPY from an unknown stage: {args}");
            continue;
        }
        for source in sources {
            assert!(
                context.join(source).exists(),
                "COPY {source}: not in the repository"
            );
            assert!(
                !ignored
                    .iter()
                    .any(|i| source == i || source.starts_with(&format!("{i}/"))),
                "COPY {source}: excluded by .dockerignore"
            );
            copied.push(source.to_string());
            copied_to.push((source.to_string(), dest.to_string()));
        }
    }
    for needed in ["Cargo.toml", "Cargo.lock", "build.rs", "src"] {
        assert!(
            copied.iter().any(|c| c == needed),
            "the build needs {needed}"
        );
    }
    for included in included_paths() {
        assert!(
            copied.iter().any(|c| included.starts_with(c)),
            "the code compiles in {}, which no COPY brings",
            included.display()
        );
    }
    let run_lines: Vec<&str> = instructions
        .iter()
        .filter(|(i, _)| i == "RUN")
        .map(|(_, a)| a.as_str())
        .collect();
    assert!(
        run_lines
            .iter()
            .any(|r| r.contains("setcap cap_net_raw,cap_net_bind_service+ep /usr/bin/netkpi")),
        "the binary gets its capabilities: {run_lines:?}"
    );
    let last = |instruction: &str| -> &str {
        instructions
            .iter()
            .rev()
            .find(|(i, _)| i == instruction)
            .map(|(_, a)| a.as_str())
            .unwrap_or_else(|| panic!("no {instruction} in the Dockerfile"))
    };
    let user = last("USER");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "USER {user}"
    );
    assert_eq!(last("EXPOSE"), netkpi_port.to_string());
    let cmd: Vec<String> = serde_json::from_str(last("CMD")).expect("CMD in JSON form");
    let config_arg = cmd
        .iter()
        .position(|a| a == "--config")
        .map(|i| cmd[i + 1].as_str())
        .expect("CMD names --config");
    assert_eq!(config_arg, "/etc/netkpi/netkpi.toml");
    assert!(
        copied_to
            .iter()
            .any(|(s, d)| d == config_arg && repo().join(s) == config_path),
        "the image carries the same config compose mounts"
    );

    // Prometheus scrapes netkpi on that port and alerts through Alertmanager.
    let prometheus = service("prometheus");
    let prom_config_in = flag(prometheus, "prometheus", "--config.file").expect("--config.file");
    let prom_config_path = bind_source(&source_of("prometheus", prom_config_in)).expect("a file");
    let prom_config = yaml(&prom_config_path);
    let netkpi_job = list(&prom_config["scrape_configs"], "scrape_configs")
        .iter()
        .find(|j| j["job_name"].as_str() == Some("netkpi"))
        .expect("a scrape job named netkpi");
    assert_eq!(
        target_port(&netkpi_job["static_configs"][0]["targets"], "netkpi"),
        netkpi_port
    );
    let prom_dir = Path::new(prom_config_in).parent().expect("a folder");
    for rule_file in list(&prom_config["rule_files"], "rule_files") {
        let inside = normalize(&prom_dir.join(str_of(rule_file, "a rule file")));
        let source = source_of("prometheus", inside.to_str().expect("utf-8"));
        assert_eq!(
            bind_source(&source),
            Some(deploy().join("prometheus/alerts.yml")),
            "the shipped alert rules"
        );
    }
    let alertmanager = service("alertmanager");
    let am_port = target_port(
        &prom_config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"],
        "alertmanager",
    );
    // Alertmanager's own default, which the compose file does not change.
    assert_eq!(
        flag(alertmanager, "alertmanager", "--web.listen-address"),
        None
    );
    assert_eq!(am_port, 9093);
    assert_eq!(
        published(alertmanager, "alertmanager"),
        BTreeSet::from([am_port])
    );
    let am_config = flag(alertmanager, "alertmanager", "--config.file").expect("--config.file");
    assert_eq!(
        bind_source(&source_of("alertmanager", am_config)),
        Some(deploy().join("alertmanager/alertmanager.yml"))
    );
    assert_eq!(flag(prometheus, "prometheus", "--web.listen-address"), None);
    let prom_port = 9090;
    assert_eq!(
        published(prometheus, "prometheus"),
        BTreeSet::from([prom_port])
    );

    // Grafana: the data source is that Prometheus, the dashboards are the
    // repository's, mounted where the provider reads them.
    let grafana = service("grafana");
    let provisioning = "/etc/grafana/provisioning";
    let ds_dir = bind_source(&source_of(
        "grafana",
        &format!("{provisioning}/datasources"),
    ))
    .expect("a folder");
    let dash_dir = bind_source(&source_of("grafana", &format!("{provisioning}/dashboards")))
        .expect("a folder");
    let mut urls = Vec::new();
    for entry in fs::read_dir(&ds_dir).expect("datasources").flatten() {
        let doc = yaml(&entry.path());
        for ds in list(&doc["datasources"], "datasources") {
            urls.push(str_of(&ds["url"], "url").to_string());
        }
    }
    assert_eq!(urls, [format!("http://prometheus:{prom_port}")]);
    let mut provided = 0;
    for entry in fs::read_dir(&dash_dir).expect("dashboards").flatten() {
        let doc = yaml(&entry.path());
        for p in list(&doc["providers"], "providers") {
            let path = str_of(&p["options"]["path"], "options.path");
            assert_eq!(
                bind_source(&source_of("grafana", path)),
                Some(repo().join("dashboards")),
                "the provider reads the repository's dashboards"
            );
            provided += 1;
        }
    }
    assert_eq!(provided, 1);
    let grafana_port = 3000;
    assert_eq!(
        published(grafana, "grafana"),
        BTreeSet::from([grafana_port])
    );

    // The README says how to start it, on which ports, and that no
    // container engine ran it here.
    let readme = read(&repo().join("README.md"));
    let section = readme
        .split("\n## Container\n")
        .nth(1)
        .expect("README has a \"## Container\" section");
    let section = section.split("\n## ").next().expect("the section");
    assert!(
        section.contains("docker compose -f deploy/compose.yaml up"),
        "{section}"
    );
    assert!(section.contains("No container engine"), "{section}");
    for quoted in section.split('`').skip(1).step_by(2) {
        if quoted.starts_with("deploy/") || quoted.starts_with("dashboards/") {
            assert!(
                repo().join(quoted).exists(),
                "the README's Container section names {quoted}, which does not exist"
            );
        }
    }
    for port in [netkpi_port, prom_port, am_port, grafana_port] {
        assert!(
            section.contains(&format!("127.0.0.1:{port}")),
            "the README's Container section does not name port {port}"
        );
    }
}

/// Files the code compiles in (`include_str!`/`include_bytes!` with a path
/// outside `src/`), relative to the repository: they must be in the image's
/// build stage too.
fn included_paths() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![repo().join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = read(&path);
            for macro_name in ["include_str!(", "include_bytes!("] {
                for (at, _) in text.match_indices(macro_name) {
                    let rest = &text[at..];
                    let Some(start) = rest.find('"') else {
                        continue;
                    };
                    let literal = &rest[start + 1..];
                    let literal = &literal[..literal.find('"').expect("a closed string")];
                    let resolved = normalize(&dir.join(literal));
                    let relative = resolved
                        .strip_prefix(repo())
                        .expect("inside the repository")
                        .to_path_buf();
                    if !relative.starts_with("src") {
                        found.push(relative);
                    }
                }
            }
        }
    }
    assert!(!found.is_empty(), "the built-in profiles are compiled in");
    found
}

/// The container's netkpi config and Prometheus config pass their own
/// tools, and netkpi starts with the former for real (its secret and ledger
/// where compose would put them, in a private network namespace).
#[test]
fn the_container_configs_pass_their_tools_and_netkpi_starts_with_its_own() {
    let check = Command::new(env!("CARGO_BIN_EXE_netkpi"))
        .args(["check", "--config"])
        .arg(deploy().join("container/netkpi.toml"))
        .output()
        .expect("run netkpi");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    let dir = tempfile::tempdir().expect("tempdir");
    fs::copy(
        deploy().join("container/prometheus.yml"),
        dir.path().join("prometheus.yml"),
    )
    .expect("copy");
    fs::copy(
        deploy().join("prometheus/alerts.yml"),
        dir.path().join("alerts.yml"),
    )
    .expect("copy");
    let promtool = Command::new("promtool")
        .args(["check", "config", "prometheus.yml"])
        .current_dir(dir.path())
        .output()
        .expect("promtool (Debian package prometheus) is needed");
    assert!(
        promtool.status.success(),
        "{}{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );

    let config = read(&deploy().join("container/netkpi.toml"))
        .replace(
            "/run/secrets/netkpi_api_token",
            deploy()
                .join("container/api_token")
                .to_str()
                .expect("utf-8"),
        )
        .replace(
            "/var/lib/netkpi",
            dir.path().join("data").to_str().expect("utf-8"),
        );
    let path = dir.path().join("netkpi.toml");
    fs::write(&path, config).expect("write config");
    let ns = common::NetNs::new();
    let listen: std::net::SocketAddr = "127.0.0.1:9731".parse().expect("address");
    let daemon = common::Daemon::start(&ns, &path, listen, dir.path().join("netkpi.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "localhost up",
        std::time::Duration::from_secs(20),
        |doc| common::state_of(doc, "devices", "name", "localhost") == "up",
    );
    assert!(
        daemon.log_text().contains("0.0.0.0:9731"),
        "{}",
        daemon.log_text()
    );
}
