//! A config over several files run by the real daemon: the lab's core
//! router in an included fragment, its access devices and lines in two CSV
//! files (Excel's byte-order mark, Chinese headers mapped to keys). The API
//! serves them as configured, a reload reads the files again (a row added
//! is monitored), and a bad cell is refused at its row and column while the
//! running config stays. Real ICMP on loopback in a private namespace.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{listen, Daemon, NetNs, ECHO_COUNT, INTERVAL_MS, LISTEN, TIMEOUT_MS};
use serde_json::Value;

fn main_toml() -> String {
    format!(
        r#"include = ["conf.d/*.toml"]

[daemon]
listen = "{LISTEN}"
data_dir = "data"
timezone = "Asia/Shanghai"

[defaults]
icmp = {{ interval = "{INTERVAL_MS}ms", timeout = "{TIMEOUT_MS}ms", count = {ECHO_COUNT}, down_after = 2, up_after = 2 }}

[[inventory]]
file = "devices.csv"
kind = "device"
template = {{ icmp = {{}} }}

[[inventory]]
file = "lines.csv"
kind = "line"
columns = {{ id = "专线编号", unit = "单位", carrier = "运营商", device = "接入设备" }}
ignore = ["备注"]
"#
    )
}

const CORE: &str = "[[device]]\nname = \"core-r1\"\nrole = \"router\"\naddress = \"127.0.10.1\"\nsite = \"core-room\"\nicmp = {}\n";

const DEVICES: &str = "name,role,address,site,parent\r\nacc-001,access_egress,127.0.20.1,财政局,core-r1\r\nacc-002,access_egress,127.0.20.2,税务局,core-r1\r\n";

const LINES: &str = "\u{feff}专线编号,单位,运营商,接入设备,备注\r\nL-001,财政局,中国电信,acc-001,\"主用, 双线\"\r\nL-002,税务局,中国联通,acc-002,\r\n";

/// Writes `text` to `path` as a new file renamed into place, as an editor
/// or an export does, so the daemon never reads half of it.
fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn names(doc: &Value, list: &str, key: &str) -> Vec<String> {
    doc[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {doc}"))
        .iter()
        .map(|e| e[key].as_str().expect("a name").to_string())
        .collect()
}

#[test]
fn a_config_from_toml_fragments_and_csv_runs_and_reloads() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("netkpi.toml");
    std::fs::create_dir(dir.path().join("conf.d")).expect("conf.d");
    write(&config, &main_toml());
    write(&dir.path().join("conf.d/10-core.toml"), CORE);
    write(&dir.path().join("devices.csv"), DEVICES);
    write(&dir.path().join("lines.csv"), LINES);

    let check = std::process::Command::new(common::netkpi_bin())
        .args(["check", "--config", "netkpi.toml"])
        .current_dir(dir.path())
        .output()
        .expect("run netkpi check");
    assert_eq!(
        String::from_utf8_lossy(&check.stdout),
        "netkpi.toml: 0 devices, 0 lines\nconf.d/10-core.toml: 1 device, 0 lines\ndevices.csv: 2 devices, 0 lines\nlines.csv: 0 devices, 2 lines\nok: 3 devices, 2 lines, 0 profiles\n"
    );

    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("run.log"));
    let devices = daemon.wait_for(
        "/api/v1/devices",
        "every device up",
        Duration::from_secs(15),
        |doc| {
            doc["devices"]
                .as_array()
                .is_some_and(|a| a.len() == 3 && a.iter().all(|d| d["state"] == "up"))
        },
    );
    // The fragment's device, then the CSV's rows, each as written there.
    assert_eq!(
        names(&devices, "devices", "name"),
        ["core-r1", "acc-001", "acc-002"]
    );
    assert_eq!(devices["devices"][2]["site"], "税务局");
    assert_eq!(devices["devices"][2]["parent"], "core-r1");
    let lines = daemon.get_json("/api/v1/lines");
    assert_eq!(names(&lines, "lines", "id"), ["L-001", "L-002"]);
    assert_eq!(lines["lines"][0]["unit"], "财政局");
    assert_eq!(lines["lines"][0]["carrier"], "中国电信");
    assert_eq!(lines["lines"][1]["bandwidth"], Value::Null);

    // A row added to each file: a reload monitors the new device and line.
    write(
        &dir.path().join("devices.csv"),
        &format!("{DEVICES}acc-003,access_egress,127.0.20.3,教育局,core-r1\r\n"),
    );
    write(
        &dir.path().join("lines.csv"),
        &format!("{LINES}L-003,教育局,中国移动,acc-003,\r\n"),
    );
    daemon.signal(libc::SIGHUP);
    daemon.wait_for(
        "/api/v1/lines",
        "L-003 up after the reload",
        Duration::from_secs(15),
        |doc| {
            doc["lines"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|l| l["id"] == "L-003" && l["state"] == "up" && l["unit"] == "教育局")
            })
        },
    );

    // A bad cell: the reload is refused at its row and column, and the
    // running config stays.
    write(
        &dir.path().join("devices.csv"),
        &format!("{DEVICES}acc-003,access_egres,127.0.20.3,教育局,core-r1\r\n"),
    );
    daemon.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.log_text().contains("reload refused") {
        assert!(
            Instant::now() < deadline,
            "no refusal logged:\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = daemon.log_text();
    assert!(
        log.contains("devices.csv:4:2: column role: unknown role \\\"access_egres\\\""),
        "{log}"
    );
    let devices = daemon.get_json("/api/v1/devices");
    assert_eq!(
        names(&devices, "devices", "name"),
        ["core-r1", "acc-001", "acc-002", "acc-003"]
    );
}
