//! Fixture tests: every rule has an invalid fixture and a test of its exact
//! diagnostics; the valid fixtures and the shipped configs must load.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    manifest_dir().join("tests/fixtures/config")
}

/// A fixture's diagnostics as printed, with the directory left out.
fn diagnostics(name: &str) -> Vec<String> {
    let dir = format!("{}/", fixtures().display());
    match load(&fixtures().join(name)) {
        Ok(_) => vec![format!("{name} loaded without errors")],
        Err(ds) => ds
            .iter()
            .map(|d| d.to_string().replacen(&dir, "", 1))
            .collect(),
    }
}

fn load_ok(path: &Path) -> Config {
    load(path).unwrap_or_else(|ds| {
        let all: Vec<String> = ds.iter().map(ToString::to_string).collect();
        panic!("{} should load:\n{}", path.display(), all.join("\n"))
    })
}

/// One entry per rule: the fixture and exactly what `netkpi check` prints.
const INVALID: &[(&str, &[&str])] = &[
    ("invalid-alarm.toml", &[
        "invalid-alarm.toml:2:3: alarm: alarms on polled values are not supported by this version yet (they need SNMP polling); remove [[alarm]]",
    ]),
    ("invalid-count.toml", &[
        "invalid-count.toml:6:18: device[0].icmp.count: count must be between 1 and 100 (echoes per round), not 0",
    ]),
    ("invalid-data-dir-empty.toml", &[
        "invalid-data-dir-empty.toml:3:12: daemon.data_dir: must not be empty; write a path or leave the key out",
    ]),
    ("invalid-degraded-loss.toml", &[
        "invalid-degraded-loss.toml:3:17: defaults.icmp.degraded_loss: degraded_loss must be a ratio greater than 0 and at most 1, not 50; for 50% write 0.5",
    ]),
    ("invalid-device-bad-hostname.toml", &[
        "invalid-device-bad-hostname.toml:5:11: device[0].address: \"bad host!\" is neither an IP address nor a valid DNS name (dot-separated labels of letters, digits and `-`)",
    ]),
    ("invalid-device-bad-ipv4.toml", &[
        "invalid-device-bad-ipv4.toml:5:11: device[0].address: \"10.1.0.300\" is not a valid IPv4 address: write four numbers 0-255, e.g. \"10.1.0.1\"",
    ]),
    ("invalid-device-duplicate-name.toml", &[
        "invalid-device-duplicate-name.toml:8:8: device[1].name: duplicate device name \"core-r1\"; device[0] (line 3) already uses it",
    ]),
    ("invalid-device-missing-address.toml", &[
        "invalid-device-missing-address.toml:2:1: device[0].address: missing `address`: the IP address or DNS name to probe",
    ]),
    ("invalid-device-missing-name.toml", &[
        "invalid-device-missing-name.toml:2:1: device[0].name: missing `name`: every device needs a unique name",
    ]),
    ("invalid-device-missing-role.toml", &[
        "invalid-device-missing-role.toml:2:1: device[0].role: missing `role`: one of router, core_switch, aggregation_switch, access_egress, firewall, ips, load_balancer, ups, air_conditioner, env_sensor, other",
    ]),
    ("invalid-device-name-chars.toml", &[
        "invalid-device-name-chars.toml:3:8: device[0].name: invalid device name \"core r1\"; use only letters, digits, `_`, `.` and `-`",
    ]),
    ("invalid-device-parent-cycle.toml", &[
        "invalid-device-parent-cycle.toml:6:10: device[0].parent: parent chain loops back: core-r1 -> core-fw1 -> core-sw1 -> core-r1; a device cannot be upstream of itself",
    ]),
    ("invalid-device-self-parent.toml", &[
        "invalid-device-self-parent.toml:6:10: device[0].parent: device \"core-r1\" cannot be its own parent",
    ]),
    ("invalid-device-single-brackets.toml", &[
        "invalid-device-single-brackets.toml:2:2: device: write [[device]] with double brackets: each device is one entry of a list",
    ]),
    ("invalid-device-unknown-parent.toml", &[
        "invalid-device-unknown-parent.toml:6:10: device[0].parent: no device named \"core-sw1\"",
    ]),
    ("invalid-device-unknown-role.toml", &[
        "invalid-device-unknown-role.toml:4:8: device[0].role: unknown role \"routr\"; expected one of: router, core_switch, aggregation_switch, access_egress, firewall, ips, load_balancer, ups, air_conditioner, env_sensor, other (did you mean `router`?)",
    ]),
    ("invalid-down-after.toml", &[
        "invalid-down-after.toml:3:14: defaults.icmp.down_after: down_after must be between 1 and 100 (failed rounds), not 0",
    ]),
    ("invalid-duplicate-key.toml", &[
        "invalid-duplicate-key.toml:6:1: device[0].name: TOML syntax error: duplicate key; each key may appear only once in a table",
    ]),
    ("invalid-duration.toml", &[
        "invalid-duration.toml:3:12: defaults.icmp.interval: duration \"10\" has no unit; write e.g. \"10s\" or \"10ms\"",
    ]),
    ("invalid-interval-too-long.toml", &[
        "invalid-interval-too-long.toml:3:12: defaults.icmp.interval: interval must be at most 1h: outages shorter than the interval would go unrecorded",
    ]),
    ("invalid-interval-too-short.toml", &[
        "invalid-interval-too-short.toml:3:12: defaults.icmp.interval: interval must be at least 1s: faster rounds load the devices' control planes without detecting an outage sooner",
    ]),
    ("invalid-line-duplicate-id.toml", &[
        "invalid-line-duplicate-id.toml:18:6: line[1].id: duplicate line id \"L-001\"; line[0] (line 13) already uses it",
    ]),
    ("invalid-line-id-is-device.toml", &[
        "invalid-line-id-is-device.toml:13:6: line[0].id: line id \"acc-001\" is also the name of device[1]; maintenance targets name devices and lines alike, so rename one",
    ]),
    ("invalid-line-interface-missing-name.toml", &[
        "invalid-line-interface-missing-name.toml:16:13: line[0].interface.name: missing `name`: the port's ifName, e.g. \"GigabitEthernet0/0/1\"",
    ]),
    ("invalid-line-interface-unknown-device.toml", &[
        "invalid-line-interface-unknown-device.toml:16:24: line[0].interface.device: no device named \"core-r9\"",
    ]),
    ("invalid-line-missing-id.toml", &[
        "invalid-line-missing-id.toml:12:1: line[0].id: missing `id`: every line needs a unique id, e.g. \"L-001\"",
    ]),
    ("invalid-line-missing-unit.toml", &[
        "invalid-line-missing-unit.toml:12:1: line[0].unit: missing `unit`: the member unit this line connects",
    ]),
    ("invalid-line-unknown-device.toml", &[
        "invalid-line-unknown-device.toml:15:10: line[0].device: no device named \"acc-301\"",
    ]),
    ("invalid-listen.toml", &[
        "invalid-listen.toml:3:10: daemon.listen: invalid listen address \"localhost:9731\"; write IP:PORT, e.g. \"127.0.0.1:9731\" or \"[::1]:9731\"",
    ]),
    ("invalid-maintenance-bad-time.toml", &[
        "invalid-maintenance-bad-time.toml:10:7: maintenance[0].end: \"tomorrow\" is not an RFC 3339 time; write e.g. \"2020-06-01T01:00:00+08:00\"",
    ]),
    ("invalid-maintenance-empty-targets.toml", &[
        "invalid-maintenance-empty-targets.toml:8:11: maintenance[0].targets: must name at least one device or line",
    ]),
    ("invalid-maintenance-end-before-start.toml", &[
        "invalid-maintenance-end-before-start.toml:10:7: maintenance[0].end: end 2020-06-01T00:30:00+08:00 must be after start 2020-06-01T01:00:00+08:00",
    ]),
    ("invalid-maintenance-missing-reason.toml", &[
        "invalid-maintenance-missing-reason.toml:7:1: maintenance[0].reason: missing `reason`: planned windows are excluded from availability, so each needs its reason",
    ]),
    ("invalid-maintenance-no-offset.toml", &[
        "invalid-maintenance-no-offset.toml:9:9: maintenance[0].start: \"2020-06-01T01:00:00\" has no UTC offset; add one, e.g. \"2020-06-01T01:00:00+08:00\", so the window does not depend on the host's time zone",
    ]),
    ("invalid-maintenance-unknown-target.toml", &[
        "invalid-maintenance-unknown-target.toml:8:23: maintenance[0].targets[1]: no device or line named \"L-009\"",
    ]),
    ("invalid-planned-negative.toml", &[
        "invalid-planned-negative.toml:4:18: planned.access_devices: access_devices is a planned quantity and cannot be negative (-150)",
    ]),
    ("invalid-sla-target.toml", &[
        "invalid-sla-target.toml:3:23: sla.availability_target: availability_target must be a ratio greater than 0 and at most 1, not 99.9; for 99.9% write 0.999",
    ]),
    ("invalid-sla-zero-duration.toml", &[
        "invalid-sla-zero-duration.toml:3:18: sla.respond_within: must be longer than 0",
    ]),
    ("invalid-snmp-defaults.toml", &[
        "invalid-snmp-defaults.toml:3:1: defaults.snmp: SNMP polling is not supported by this version yet; remove `snmp` (ICMP monitoring works without it)",
    ]),
    ("invalid-snmp-device.toml", &[
        "invalid-snmp-device.toml:6:1: device[0].snmp: SNMP polling is not supported by this version yet; remove `snmp` (ICMP monitoring works without it)",
    ]),
    ("invalid-syntax.toml", &[
        "invalid-syntax.toml:3:25: daemon.listen: TOML syntax error: invalid basic string, expected `\"`",
    ]),
    ("invalid-three-mistakes.toml", &[
        "invalid-three-mistakes.toml:4:1: defaults.icmp.timout: unknown key `timout` in defaults.icmp; expected one of: interval, timeout, count, down_after, up_after, degraded_loss (did you mean `timeout`?)",
        "invalid-three-mistakes.toml:9:11: device[0].address: \"10.1.0.300\" is not a valid IPv4 address: write four numbers 0-255, e.g. \"10.1.0.1\"",
        "invalid-three-mistakes.toml:20:10: line[0].device: no device named \"acc-301\"",
    ]),
    ("invalid-timeout-not-shorter.toml", &[
        "invalid-timeout-not-shorter.toml:9:20: device[0].icmp.timeout: timeout 5s must be shorter than interval 5s from [defaults.icmp]: each round has to finish before the next starts",
    ]),
    ("invalid-timeout-zero.toml", &[
        "invalid-timeout-zero.toml:3:11: defaults.icmp.timeout: timeout must be longer than 0, e.g. \"1s\"",
    ]),
    ("invalid-timezone.toml", &[
        "invalid-timezone.toml:3:12: daemon.timezone: unknown time zone \"Asia/Shangai\"; use an IANA name such as \"Asia/Shanghai\" or \"UTC\"",
    ]),
    ("invalid-traps.toml", &[
        "invalid-traps.toml:2:2: traps: the SNMP trap receiver is not supported by this version yet; remove [traps]",
    ]),
    ("invalid-unknown-key.toml", &[
        "invalid-unknown-key.toml:3:1: defaults.icmp.intervall: unknown key `intervall` in defaults.icmp; expected one of: interval, timeout, count, down_after, up_after, degraded_loss (did you mean `interval`?)",
    ]),
    ("invalid-unknown-section.toml", &[
        "invalid-unknown-section.toml:2:2: deamon: unknown section `deamon`; expected one of: daemon, defaults, device, line, maintenance, sla, planned (did you mean `daemon`?)",
    ]),
    ("invalid-unquoted-address.toml", &[
        "invalid-unquoted-address.toml:5:15: device[0].address: TOML syntax error: invalid float; if this is text (an address, a name), put it in quotes",
    ]),
    ("invalid-up-after.toml", &[
        "invalid-up-after.toml:3:12: defaults.icmp.up_after: up_after must be between 1 and 100 (answered rounds), not 101",
    ]),
    ("invalid-wrong-type.toml", &[
        "invalid-wrong-type.toml:3:18: defaults.icmp.count: expected a whole number, found string \"3\"",
    ]),
];

#[test]
fn each_invalid_fixture_reports_exactly_its_mistakes() {
    let mut failures = Vec::new();
    for (name, expected) in INVALID {
        let got = diagnostics(name);
        if got != *expected {
            failures.push(format!("{name}:\n  expected {expected:#?}\n  got {got:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_invalid_fixture_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixture directory")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.starts_with("invalid-"))
        .collect();
    on_disk.sort();
    let mut tested: Vec<String> = INVALID.iter().map(|(n, _)| n.to_string()).collect();
    tested.sort();
    assert_eq!(on_disk, tested);
}

#[test]
fn three_mistakes_are_all_reported_at_once() {
    let got = diagnostics("invalid-three-mistakes.toml");
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(got[0].contains("unknown key `timout`"));
    assert!(got[1].contains("10.1.0.300"));
    assert!(got[2].contains("no device named \"acc-301\""));
}

#[test]
fn unreadable_file_is_one_diagnostic() {
    let err = load(&fixtures().join("no-such-file.toml")).unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!((err[0].line, err[0].col), (0, 0));
    assert!(err[0].message.starts_with("cannot read the config file"));
}

#[test]
fn minimal_file_takes_every_default() {
    let path = fixtures().join("valid-minimal.toml");
    let c = load_ok(&path);
    assert_eq!(c.daemon.listen, "127.0.0.1:9731".parse().unwrap());
    assert_eq!(c.daemon.data_dir, fixtures().join("data"));
    assert_eq!(c.daemon.timezone_name, "UTC");
    assert_eq!(c.daemon.api_token_file, None);
    assert_eq!(c.defaults.icmp, IcmpSettings::default());
    assert_eq!(c.devices[0].icmp, Some(IcmpSettings::default()));
    assert_eq!(c.devices[0].site, "");
    assert_eq!(c.sla.availability_target, 0.999);
    assert_eq!(c.sla.respond_within, Duration::from_secs(30 * 60));
    assert_eq!(c.sla.restore_within, Duration::from_secs(4 * 3600));
    assert_eq!(c.planned.core_devices, 0);
    assert_eq!(summary(&c), "ok: 1 devices, 0 lines, 0 profiles");
}

#[test]
fn full_fixture_resolves_every_field() {
    let path = fixtures().join("valid-full.toml");
    let c = load_ok(&path);
    assert_eq!(c.source, path);

    assert_eq!(c.daemon.listen, "0.0.0.0:9800".parse().unwrap());
    assert_eq!(c.daemon.data_dir, PathBuf::from("/var/lib/netkpi"));
    assert_eq!(c.daemon.timezone_name, "Asia/Shanghai");
    assert_eq!(c.daemon.timezone.iana_name(), Some("Asia/Shanghai"));
    assert_eq!(
        c.daemon.api_token_file,
        Some(fixtures().join("secrets/api_token"))
    );

    let defaults = IcmpSettings {
        interval: Duration::from_secs(20),
        timeout: Duration::from_secs(2),
        count: 5,
        down_after: 4,
        up_after: 3,
        degraded_loss: 0.4,
    };
    assert_eq!(c.defaults.icmp, defaults);

    assert_eq!(c.devices.len(), 3);
    let r1 = &c.devices[0];
    assert_eq!(
        (r1.name.as_str(), r1.role, r1.address.as_str()),
        ("core-r1", Role::Router, "10.1.0.1")
    );
    assert_eq!(r1.site, "core-room");
    assert_eq!(r1.parent, None);
    // Device keys over [defaults.icmp], the rest inherited.
    assert_eq!(
        r1.icmp,
        Some(IcmpSettings {
            interval: Duration::from_secs(5),
            degraded_loss: 1.0,
            ..defaults.clone()
        })
    );
    let sw1 = &c.devices[1];
    assert_eq!(
        (sw1.role, sw1.address.as_str()),
        (Role::CoreSwitch, "fd00::2")
    );
    assert_eq!(sw1.parent.as_deref(), Some("core-r1"));
    assert_eq!(sw1.icmp, Some(defaults.clone()));
    let acc = &c.devices[2];
    assert_eq!(acc.address, "acc-001.wan.example.gov.cn");
    assert_eq!(acc.icmp, None, "no `icmp` key: not pinged");

    assert_eq!(c.lines.len(), 2);
    let l1 = &c.lines[0];
    assert_eq!(
        (l1.id.as_str(), l1.unit.as_str(), l1.carrier.as_str()),
        ("L-001", "Finance Bureau", "Carrier A")
    );
    assert_eq!(l1.bandwidth.as_deref(), Some("100M"));
    assert_eq!(l1.device, "acc-001");
    let iface = l1.interface.as_ref().expect("interface");
    assert_eq!(
        (iface.device.as_str(), iface.name.as_str()),
        ("core-r1", "GigabitEthernet0/0/1")
    );
    let l2 = &c.lines[1];
    assert_eq!((l2.carrier.as_str(), l2.bandwidth.as_deref()), ("", None));
    assert!(l2.interface.is_none());

    let m = &c.maintenance[0];
    assert_eq!(m.targets, ["core-r1", "L-001"]);
    // Quoted string and bare TOML datetime both accepted.
    assert_eq!(m.start, "2020-05-31T17:00:00Z".parse().unwrap());
    assert_eq!(m.end, "2020-05-31T19:00:00Z".parse().unwrap());
    assert_eq!(m.reason, "firmware upgrade");

    assert_eq!(c.sla.availability_target, 0.995);
    assert_eq!(c.sla.respond_within, Duration::from_secs(15 * 60));
    assert_eq!(c.sla.restore_within, Duration::from_secs(2 * 3600));
    assert_eq!(
        (
            c.planned.core_rooms,
            c.planned.core_devices,
            c.planned.access_devices,
            c.planned.leased_lines
        ),
        (1, 17, 150, 150)
    );
    assert_eq!(summary(&c), "ok: 3 devices, 2 lines, 0 profiles");
}

#[test]
fn shipped_example_config_loads() {
    let path = manifest_dir().join("config/example.toml");
    let c = load_ok(&path);
    assert_eq!(summary(&c), "ok: 7 devices, 4 lines, 0 profiles");
    assert_eq!(c.daemon.data_dir, manifest_dir().join("config/data"));
    assert_eq!(c.daemon.timezone_name, "Asia/Shanghai");
    assert!(
        c.maintenance[0].end < jiff::Timestamp::now(),
        "the example window is in the past"
    );
}

#[test]
fn shipped_full_config_loads() {
    let c = load_ok(&manifest_dir().join("config/full.toml"));
    assert_eq!(summary(&c), "ok: 7 devices, 4 lines, 0 profiles");
}

#[test]
fn wrong_types_in_one_table_are_all_reported() {
    let text = "[defaults.icmp]\ncount = \"3\"\nup_after = \"2\"\ntypo = 1\n";
    let got: Vec<String> = load_str(Path::new("t.toml"), text)
        .unwrap_err()
        .iter()
        .map(|d| format!("{}:{} {}", d.line, d.col, d.path))
        .collect();
    assert_eq!(
        got,
        [
            "2:9 defaults.icmp.count",
            "3:12 defaults.icmp.up_after",
            "4:1 defaults.icmp.typo"
        ]
    );
}

#[test]
fn a_refused_value_is_not_also_reported_missing() {
    let text = "[[device]]\nname = 5\nrole = \"router\"\naddress = \"10.0.0.1\"\n";
    let got = load_str(Path::new("t.toml"), text).unwrap_err();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].path, "device[0].name");
    assert_eq!(got[0].message, "expected a string, found integer 5");
}
