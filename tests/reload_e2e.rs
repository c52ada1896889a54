//! SIGHUP reloads the config without a restart and without losing state; an
//! invalid config is refused and the running one stays.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::{state_of, Daemon, NetNs};

const HEAD: &str = r#"
[daemon]
listen = "127.0.0.1:9731"
data_dir = "data"

[defaults]
icmp = { interval = "1s", timeout = "300ms", count = 2, down_after = 2, up_after = 2 }

[[device]]
name = "core-r1"
role = "router"
address = "127.0.10.1"
icmp = {}
"#;

const BEFORE: &str = r#"
[[device]]
name = "acc-001"
role = "access_egress"
address = "127.0.20.1"
icmp = {}

[[line]]
id = "L-001"
unit = "Finance Bureau"
device = "acc-001"
"#;

const AFTER: &str = r#"
[[device]]
name = "acc-002"
role = "access_egress"
address = "127.0.20.2"
icmp = {}

[[line]]
id = "L-002"
unit = "Tax Office"
device = "acc-002"
"#;

fn write(path: &Path, text: &str) {
    // Write then rename, as an editor or config management would.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn names(doc: &serde_json::Value, list: &str, key: &str) -> Vec<String> {
    doc[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d[key].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sighup_reloads_without_losing_state() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("netkpi.toml");
    write(&config, &format!("{HEAD}{BEFORE}"));
    let listen: SocketAddr = "127.0.0.1:9731".parse().unwrap();
    let daemon = Daemon::start(&ns, &config, listen, dir.path().join("netkpi.log"));
    let devices = daemon.wait_for(
        "/api/v1/devices",
        "both devices up",
        Duration::from_secs(10),
        |d| {
            state_of(d, "devices", "name", "core-r1") == "up"
                && state_of(d, "devices", "name", "acc-001") == "up"
        },
    );
    let core_since = devices["devices"][0]["since"].clone();
    assert_eq!(devices["devices"][0]["name"], "core-r1");

    write(&config, &format!("{HEAD}{AFTER}"));
    daemon.signal(libc::SIGHUP);
    let devices = daemon.wait_for(
        "/api/v1/devices",
        "acc-002 up after reload",
        Duration::from_secs(10),
        |d| {
            names(d, "devices", "name").contains(&"acc-002".to_string())
                && state_of(d, "devices", "name", "acc-002") == "up"
        },
    );
    assert_eq!(names(&devices, "devices", "name"), ["core-r1", "acc-002"]);
    assert_eq!(
        devices["devices"][0]["since"], core_since,
        "core-r1 kept its state across the reload: {devices}"
    );
    let lines = daemon.wait_for("/api/v1/lines", "L-002 up", Duration::from_secs(5), |d| {
        state_of(d, "lines", "id", "L-002") == "up"
    });
    assert_eq!(names(&lines, "lines", "id"), ["L-002"]);
    let (_, metrics) = daemon.get("/metrics");
    assert!(
        !metrics.contains("acc-001"),
        "removed targets leave /metrics:\n{metrics}"
    );
    assert!(
        metrics.contains("netkpi_device_up{device=\"acc-002\""),
        "{metrics}"
    );

    // A broken config is refused; the daemon keeps running the previous one.
    write(
        &config,
        &format!(
            "{HEAD}{AFTER}\n[[device]]\nname = \"x\"\nrole = \"routr\"\naddress = \"127.0.0.9\"\n"
        ),
    );
    daemon.signal(libc::SIGHUP);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !daemon.log_text().contains("reload refused") {
        assert!(
            std::time::Instant::now() < deadline,
            "no refusal logged:\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        daemon.log_text().contains("unknown role"),
        "{}",
        daemon.log_text()
    );
    let (status, _) = daemon.get("/healthz");
    assert_eq!(status, 200);
    let devices = daemon.get_json("/api/v1/devices");
    assert_eq!(names(&devices, "devices", "name"), ["core-r1", "acc-002"]);
    assert!(daemon.stop().success());
}
