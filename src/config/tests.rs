//! Fixture tests: every rule has an invalid fixture and a test of its exact
//! diagnostics; the valid fixtures and the shipped configs must load.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::model::Severity;
use crate::snmp_security::{AuthProtocol, Credentials, KeyExtension, PrivProtocol, SnmpVersion};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    manifest_dir().join("tests/fixtures/config")
}

/// A fixture's diagnostics as printed, with the directory left out: read
/// with the profiles, as `netkpi check` does (alarms are checked against
/// the metrics the profiles give).
fn diagnostics(name: &str) -> Vec<String> {
    let dir = format!("{}/", fixtures().display());
    match crate::loader::load(&fixtures().join(name)).map(|l| l.config) {
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
    ("invalid-alarm-devices.toml", &[
        "invalid-alarm-devices.toml:24:21: alarm[0].devices[1]: device \"core-r1\" polls no profile that gives ups_on_battery (it polls if_mib; ups_on_battery comes from apc_powernet, huawei_ups, ups_mib)",
        "invalid-alarm-devices.toml:24:32: alarm[0].devices[2]: device \"acc-001\" is not polled over SNMP (it has no `snmp`), so it has no values to watch",
        "invalid-alarm-devices.toml:24:43: alarm[0].devices[3]: no device named \"ups-9\"",
    ]),
    ("invalid-alarm-duplicate-name.toml", &[
        "invalid-alarm-duplicate-name.toml:21:8: alarm[1].name: duplicate alarm name \"ups-on-battery\"; alarm[0] (line 15) already uses it",
    ]),
    ("invalid-alarm-labels.toml", &[
        "invalid-alarm-labels.toml:19:30: alarm[0].labels.ups_input_lines: ups_input_voltage_volts has no label \"ups_input_lines\"; its labels: ups_input_line (did you mean `ups_input_line`?)",
        "invalid-alarm-labels.toml:19:43: alarm[0].labels.phase: ups_input_voltage_volts has no label \"phase\"; its labels: ups_input_line",
    ]),
    ("invalid-alarm-metric-not-polled.toml", &[
        "invalid-alarm-metric-not-polled.toml:16:10: alarm[0].metric: no device polls a profile that gives temperature_celsius (apc_powernet, entity_sensor, h3c, huawei, liebert give it): add one to a device's snmp.profiles",
    ]),
    ("invalid-alarm-missing-keys.toml", &[
        "invalid-alarm-missing-keys.toml:14:1: alarm[0].name: missing `name`: every alarm needs a unique name; it names the incidents it opens",
        "invalid-alarm-missing-keys.toml:14:1: alarm[0].op: missing `op`: the comparison: ==, !=, <, <=, > or >=",
        "invalid-alarm-missing-keys.toml:14:1: alarm[0].value: missing `value`: the number the polled value is compared with",
    ]),
    ("invalid-alarm-op.toml", &[
        "invalid-alarm-op.toml:17:6: alarm[0].op: unknown comparison \"=>\"; expected one of: ==, !=, <, <=, >, >=",
    ]),
    ("invalid-alarm-trap.toml", &[
        "invalid-alarm-trap.toml:17:8: alarm[0].trap: unknown trap \"ups_on_batery\"; an alarm can be raised by: ups_on_battery, link_down (did you mean `ups_on_battery`?)",
        "invalid-alarm-trap.toml:22:6: alarm[1].op: a trap alarm has no `op`: trap \"link_down\" reports netkpi_if_oper_up == 0, which the polls confirm or clear; remove `op` or `trap`",
        "invalid-alarm-trap.toml:23:9: alarm[1].value: a trap alarm has no `value`: trap \"link_down\" reports netkpi_if_oper_up == 0, which the polls confirm or clear; remove `value` or `trap`",
        "invalid-alarm-trap.toml:28:12: alarm[2].devices[0]: device \"core-r1\" polls no profile that gives ups_on_battery (it polls if_mib; ups_on_battery comes from apc_powernet, huawei_ups, ups_mib)",
        "invalid-alarm-trap.toml:33:21: alarm[3].labels.ifname: if_oper_up has no label \"ifname\"; its labels: if_index, if_name, if_alias (did you mean `if_name`?)",
    ]),
    ("invalid-alarm-unknown-key.toml", &[
        "invalid-alarm-unknown-key.toml:19:1: alarm[0].treshold: unknown key `treshold` in alarm[0]; expected one of: name, metric, op, value, severity, hold, devices, labels, trap",
    ]),
    ("invalid-alarm-unknown-metric.toml", &[
        "invalid-alarm-unknown-metric.toml:16:10: alarm[0].metric: unknown metric \"netkpi_ups_on_batery\": no profile gives it (did you mean `ups_on_battery`?)",
    ]),
    ("invalid-alarm-values.toml", &[
        "invalid-alarm-values.toml:32:9: alarm[2].value: expected a number, found string \"600\"",
        "invalid-alarm-values.toml:15:8: alarm[0].name: invalid alarm name \"ups on battery\"; use only letters, digits, `_`, `.` and `-`",
        "invalid-alarm-values.toml:18:9: alarm[0].value: value must be a finite number, not NaN",
        "invalid-alarm-values.toml:19:12: alarm[0].severity: unknown severity \"urgent\"; expected one of: critical, major, minor",
        "invalid-alarm-values.toml:20:8: alarm[0].hold: duration \"1 minute\" has no unit; write e.g. \"1s\" or \"1ms\"",
        "invalid-alarm-values.toml:26:9: alarm[1].value: value must be a finite number, not -inf",
    ]),
    ("invalid-count.toml", &[
        "invalid-count.toml:6:18: device[0].icmp.count: count must be between 1 and 100 (echoes per round), not 0",
    ]),
    ("invalid-daemon-http-max-connections.toml", &[
        "invalid-daemon-http-max-connections.toml:3:24: daemon.http_max_connections: http_max_connections must be between 16 and 65536 (HTTP connections open at once), not 8",
    ]),
    ("invalid-daemon-store-stall-after-too-long.toml", &[
        "invalid-daemon-store-stall-after-too-long.toml:3:21: daemon.store_stall_after: store_stall_after must be at most 10m: a hung store would go unnoticed for longer than most outages last",
    ]),
    ("invalid-daemon-store-stall-after-too-short.toml", &[
        "invalid-daemon-store-stall-after-too-short.toml:3:21: daemon.store_stall_after: store_stall_after must be at least 1s: an ordinary slow fsync would count as a stalled store",
    ]),
    ("invalid-data-dir-control.toml", &[
        "invalid-data-dir-control.toml:3:12: daemon.data_dir: path contains the control character U+0000 at character 16; control characters (NUL, newline, tab and the like) are not allowed",
    ]),
    ("invalid-data-dir-empty.toml", &[
        "invalid-data-dir-empty.toml:3:12: daemon.data_dir: must not be empty; write a path or leave the key out",
    ]),
    ("invalid-data-dir-too-long.toml", &[
        "invalid-data-dir-too-long.toml:3:12: daemon.data_dir: path is 4099 characters long; at most 4096 are allowed",
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
    ("invalid-device-name-control.toml", &[
        "invalid-device-name-control.toml:3:8: device[0].name: device name contains the control character U+0009 at character 8; control characters (NUL, newline, tab and the like) are not allowed",
    ]),
    ("invalid-device-name-too-long.toml", &[
        "invalid-device-name-too-long.toml:4:8: device[0].name: device name is 65 characters long; at most 64 are allowed",
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
    ("invalid-device-site-control.toml", &[
        "invalid-device-site-control.toml:6:8: device[0].site: site contains the control character U+0000 at character 12; control characters (NUL, newline, tab and the like) are not allowed",
    ]),
    ("invalid-device-site-too-long.toml", &[
        "invalid-device-site-too-long.toml:6:8: device[0].site: site is 201 characters long; at most 200 are allowed",
    ]),
    ("invalid-device-unknown-parent-long.toml", &[
        "invalid-device-unknown-parent-long.toml:6:10: device[0].parent: no device named \"core-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\"…",
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
    ("invalid-indicator-duplicate-id.toml", &[
        "invalid-indicator-duplicate-id.toml:10:1: indicator[1].id: duplicate indicator id \"availability\"; indicator[0] (line 2) has it already; give one of them an `id`",
    ]),
    ("invalid-indicator-floor.toml", &[
        "invalid-indicator-floor.toml:9:9: indicator[0].floor: floor 1 must be below the target 0.999: it is where the score reaches 0",
        "invalid-indicator-floor.toml:17:9: indicator[1].floor: floor 2h must be above the target 4h: it is where the score reaches 0",
    ]),
    ("invalid-indicator-manual-file.toml", &[
        "invalid-indicator-manual-file.toml:3:15: report.manual_file: cannot read \"no-such-manual.toml\" (No such file or directory (os error 2)); a relative path is taken from this file's folder",
    ]),
    ("invalid-indicator-missing-keys.toml", &[
        "invalid-indicator-missing-keys.toml:2:1: indicator[0].level2: missing `level2`: { zh = \"...\", en = \"...\" }",
        "invalid-indicator-missing-keys.toml:2:1: indicator[0].name: missing `name`: { zh = \"...\", en = \"...\" }",
        "invalid-indicator-missing-keys.toml:2:1: indicator[0].target: missing `target`: the value the row aims at",
        "invalid-indicator-missing-keys.toml:2:1: indicator[0].weight: missing `weight`: the row's points in the form",
        "invalid-indicator-missing-keys.toml:3:6: indicator[0].id: id \"Avail\" must be snake_case: lowercase letters, digits and _",
        "invalid-indicator-missing-keys.toml:4:10: indicator[0].level1.en: missing `en`: the label in both languages",
    ]),
    ("invalid-indicator-score.toml", &[
        "invalid-indicator-score.toml:9:9: indicator[0].score: score = \"steps\" needs [[indicator.steps]] tables (at = VALUE, score = POINTS)",
        "invalid-indicator-score.toml:18:9: indicator[1].score: a step's score (40) must be between 0 and the weight (30)",
        "invalid-indicator-score.toml:27:9: indicator[2].score: unknown score rule \"quadratic\"; expected \"linear\", \"threshold\" or \"steps\"",
        "invalid-indicator-score.toml:28:13: indicator[2].direction: unknown direction \"up\"; expected \"higher\" (more is better) or \"lower\" (less is better, e.g. time to restore)",
        "invalid-indicator-score.toml:29:8: indicator[2].unit: `unit` is for manual rows; availability.lines has its own unit",
    ]),
    ("invalid-indicator-total-weight.toml", &[
        "invalid-indicator-total-weight.toml:5:1: indicator: the weights add up to 40.5, not 50; fix them, or declare the form's total as [report] total_weight",
    ]),
    ("invalid-indicator-unknown-source.toml", &[
        "invalid-indicator-unknown-source.toml:6:10: indicator[0].source: unknown source \"availabilty\" (did you mean `availability`?); expected one of: devices_monitored, devices_monitored.core, devices_monitored.access, devices_planned, devices_planned.core, devices_planned.access, lines_monitored, lines_planned, core_rooms, availability, availability.core, availability.access, availability.lines, coverage, coverage.core, coverage.access, coverage.lines, units_connected, faults, acknowledged_within_share, restored_within_share, mean_time_to_respond, median_time_to_respond, p95_time_to_respond, mean_time_to_restore, median_time_to_restore, p95_time_to_restore, energy_kwh, manual",
    ]),
    ("invalid-indicator-weights.toml", &[
        "invalid-indicator-weights.toml:2:1: indicator: the weights add up to 90, not 100; fix them, or declare the form's total as [report] total_weight",
    ]),
    ("invalid-interval-too-long.toml", &[
        "invalid-interval-too-long.toml:3:12: defaults.icmp.interval: interval must be at most 1h: outages shorter than the interval would go unrecorded",
    ]),
    ("invalid-interval-too-short.toml", &[
        "invalid-interval-too-short.toml:3:12: defaults.icmp.interval: interval must be at least 1s: faster rounds load the devices' control planes without detecting an outage sooner",
    ]),
    ("invalid-line-bandwidth-too-long.toml", &[
        "invalid-line-bandwidth-too-long.toml:10:13: line[0].bandwidth: bandwidth is 202 characters long; at most 200 are allowed",
    ]),
    ("invalid-line-carrier-control.toml", &[
        "invalid-line-carrier-control.toml:10:11: line[0].carrier: carrier contains the control character U+001B at character 10; control characters (NUL, newline, tab and the like) are not allowed",
    ]),
    ("invalid-line-duplicate-id.toml", &[
        "invalid-line-duplicate-id.toml:18:6: line[1].id: duplicate line id \"L-001\"; line[0] (line 13) already uses it",
    ]),
    ("invalid-line-id-is-device.toml", &[
        "invalid-line-id-is-device.toml:13:6: line[0].id: line id \"acc-001\" is also the name of device[1] (line 7); maintenance targets name devices and lines alike, so rename one",
    ]),
    ("invalid-line-id-too-long.toml", &[
        "invalid-line-id-too-long.toml:8:6: line[0].id: line id is 65 characters long; at most 64 are allowed",
    ]),
    ("invalid-line-interface-missing-name.toml", &[
        "invalid-line-interface-missing-name.toml:17:13: line[0].interface.name: missing `name`: the port's ifName, e.g. \"GigabitEthernet0/0/1\"",
    ]),
    ("invalid-line-interface-name-too-long.toml", &[
        "invalid-line-interface-name-too-long.toml:16:42: line[0].interface.name: interface name is 256 characters long; at most 255 are allowed",
    ]),
    ("invalid-line-interface-no-if-mib.toml", &[
        "invalid-line-interface-no-if-mib.toml:22:24: line[0].interface.device: device \"core-r1\" has no SNMP polling with the if_mib profile; a line's interface state comes from IF-MIB, so give that device snmp = { profiles = [\"if_mib\"] }",
        "invalid-line-interface-no-if-mib.toml:28:24: line[1].interface.device: device \"core-r2\" has no SNMP polling with the if_mib profile; a line's interface state comes from IF-MIB, so add \"if_mib\" to that device's snmp profiles",
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
    ("invalid-line-severity.toml", &[
        "invalid-line-severity.toml:18:12: line[0].severity: unknown severity \"urgent\"; expected one of: critical, major, minor",
    ]),
    ("invalid-line-unit-control.toml", &[
        "invalid-line-unit-control.toml:9:8: line[0].unit: unit contains the control character U+000A at character 8; control characters (NUL, newline, tab and the like) are not allowed",
    ]),
    ("invalid-line-unit-too-long.toml", &[
        "invalid-line-unit-too-long.toml:9:8: line[0].unit: unit is 201 characters long; at most 200 are allowed",
    ]),
    ("invalid-line-unknown-device.toml", &[
        "invalid-line-unknown-device.toml:15:10: line[0].device: no device named \"acc-301\"",
    ]),
    ("invalid-listen-without-token.toml", &[
        "invalid-listen-without-token.toml:3:10: daemon.listen: 0.0.0.0:9731 is not a loopback address, so the API is reachable from the network, and its write endpoints (acknowledging incidents, notes, maintenance) then need a bearer token: set daemon.api_token_file to a file holding the token (chmod 600), or listen on loopback, e.g. \"127.0.0.1:9731\"",
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
    ("invalid-maintenance-reason-control.toml", &[
        "invalid-maintenance-reason-control.toml:11:10: maintenance[0].reason: reason contains the control character U+0009 at character 9; control characters (NUL, newline, tab and the like) are not allowed",
    ]),
    ("invalid-maintenance-reason-too-long.toml", &[
        "invalid-maintenance-reason-too-long.toml:11:10: maintenance[0].reason: reason is 201 characters long; at most 200 are allowed",
    ]),
    ("invalid-maintenance-unknown-target.toml", &[
        "invalid-maintenance-unknown-target.toml:8:23: maintenance[0].targets[1]: no device or line named \"L-009\"",
    ]),
    ("invalid-planned-negative.toml", &[
        "invalid-planned-negative.toml:4:18: planned.access_devices: access_devices is a planned quantity and cannot be negative (-150)",
    ]),
    ("invalid-profile-dirs-control.toml", &[
        "invalid-profile-dirs-control.toml:3:17: daemon.profile_dirs[0]: path contains the control character U+0009 at character 9; control characters (NUL, newline, tab and the like) are not allowed",
    ]),
    ("invalid-profile-dirs-missing.toml", &[
        "invalid-profile-dirs-missing.toml:3:29: daemon.profile_dirs[1]: cannot read profile folder \"no-such-folder\": no such folder (a relative path starts at this config file's folder); create it or remove it from profile_dirs",
    ]),
    ("invalid-sla-flap-window.toml", &[
        "invalid-sla-flap-window.toml:20:15: sla.flap_window: must be longer than 0",
    ]),
    ("invalid-sla-override-empty-match.toml", &[
        "invalid-sla-override-empty-match.toml:20:9: sla.override[0].match: match is empty; name exactly one of carrier, role, line or device, e.g. { carrier = \"Carrier A\" }",
    ]),
    ("invalid-sla-override-missing-match.toml", &[
        "invalid-sla-override-missing-match.toml:19:1: sla.override[0].match: missing `match`: what the override applies to: one of carrier, role, line or device, e.g. match = { carrier = \"Carrier A\" }",
    ]),
    ("invalid-sla-override-sets-nothing.toml", &[
        "invalid-sla-override-sets-nothing.toml:19:1: sla.override[0]: the override sets nothing; give it at least one of availability_target, respond_within, restore_within, severity",
    ]),
    ("invalid-sla-override-severity.toml", &[
        "invalid-sla-override-severity.toml:21:12: sla.override[0].severity: unknown severity \"high\"; expected one of: critical, major, minor",
    ]),
    ("invalid-sla-override-two-match-keys.toml", &[
        "invalid-sla-override-two-match-keys.toml:20:41: sla.override[0].match: match has 2 keys (carrier, role); an override matches by exactly one, so write one [[sla.override]] for each",
    ]),
    ("invalid-sla-override-unknown-carrier.toml", &[
        "invalid-sla-override-unknown-carrier.toml:20:21: sla.override[0].match.carrier: no line has carrier \"Carrier B\"; the lines' carriers are \"Carrier A\" (did you mean `Carrier A`?)",
    ]),
    ("invalid-sla-override-unknown-device.toml", &[
        "invalid-sla-override-unknown-device.toml:20:20: sla.override[0].match.device: no device named \"core-r9\" (did you mean `core-r1`?)",
    ]),
    ("invalid-sla-override-unknown-key.toml", &[
        "invalid-sla-override-unknown-key.toml:21:1: sla.override[0].restore_whithin: unknown key `restore_whithin` in sla.override[0]; expected one of: match, availability_target, respond_within, restore_within, severity (did you mean `restore_within`?)",
    ]),
    ("invalid-sla-override-unknown-line.toml", &[
        "invalid-sla-override-unknown-line.toml:20:18: sla.override[0].match.line: no line named \"L-01\" (did you mean `L-001`?)",
    ]),
    ("invalid-sla-override-unknown-match-key.toml", &[
        "invalid-sla-override-unknown-match-key.toml:20:11: sla.override[0].match.carier: unknown key `carier` in sla.override[0].match; expected one of: carrier, role, line, device (did you mean `carrier`?)",
    ]),
    ("invalid-sla-override-unknown-role.toml", &[
        "invalid-sla-override-unknown-role.toml:20:18: sla.override[0].match.role: unknown role \"core-switch\"; expected one of: router, core_switch, aggregation_switch, access_egress, firewall, ips, load_balancer, ups, air_conditioner, env_sensor, other (did you mean `core_switch`?)",
    ]),
    ("invalid-sla-override-values.toml", &[
        "invalid-sla-override-values.toml:21:23: sla.override[0].availability_target: availability_target must be a ratio greater than 0 and at most 1, not 99.5; for 99.5% write 0.995",
        "invalid-sla-override-values.toml:22:18: sla.override[0].respond_within: must be longer than 0",
        "invalid-sla-override-values.toml:23:18: sla.override[0].restore_within: unknown unit \"hours\" in duration \"4hours\"; use ms, s, m, h or d",
    ]),
    ("invalid-sla-target.toml", &[
        "invalid-sla-target.toml:3:23: sla.availability_target: availability_target must be a ratio greater than 0 and at most 1, not 99.9; for 99.9% write 0.999",
    ]),
    ("invalid-sla-zero-duration.toml", &[
        "invalid-sla-zero-duration.toml:3:18: sla.respond_within: must be longer than 0",
    ]),
    ("invalid-snmp-auth-without-pass-file.toml", &[
        "invalid-snmp-auth-without-pass-file.toml:6:8: device[0].snmp.auth_pass_file: missing `auth_pass_file`: auth = \"sha256\" needs the file holding its pass phrase",
    ]),
    ("invalid-snmp-community-and-file.toml", &[
        "invalid-snmp-community-and-file.toml:6:49: device[0].snmp.community_file: set either community or community_file, not both",
    ]),
    ("invalid-snmp-community-on-v3.toml", &[
        "invalid-snmp-community-on-v3.toml:6:51: device[0].snmp.community: community is only for SNMPv1 and v2c; SNMPv3 authenticates with user, auth and priv",
    ]),
    ("invalid-snmp-defaults-profiles.toml", &[
        "invalid-snmp-defaults-profiles.toml:3:21: defaults.snmp.profiles: profiles are chosen per device (a UPS and a router need different ones); move them to each device's snmp",
    ]),
    ("invalid-snmp-defaults.toml", &[
        "invalid-snmp-defaults.toml:3:55: defaults.snmp.user: user is only for SNMPv3; set version = \"3\"",
    ]),
    ("invalid-snmp-device.toml", &[
        "invalid-snmp-device.toml:6:8: device[0].snmp.profiles: missing `profiles`: the profiles to poll, e.g. profiles = [\"system\", \"if_mib\"]",
    ]),
    ("invalid-snmp-duplicate-profile.toml", &[
        "invalid-snmp-duplicate-profile.toml:6:42: device[0].snmp.profiles[2]: profile \"system\" is listed twice; name each profile once",
    ]),
    ("invalid-snmp-empty-profiles.toml", &[
        "invalid-snmp-empty-profiles.toml:6:21: device[0].snmp.profiles: must name at least one profile, e.g. [\"system\", \"if_mib\"]",
    ]),
    ("invalid-snmp-interval-too-long.toml", &[
        "invalid-snmp-interval-too-long.toml:3:21: defaults.snmp.interval: interval must be at most 1h: outages of devices watched only over SNMP that are shorter than the interval would go unrecorded",
    ]),
    ("invalid-snmp-interval-too-short.toml", &[
        "invalid-snmp-interval-too-short.toml:3:21: defaults.snmp.interval: interval must be at least 1s: faster polls load the agents' CPUs without telling anything new",
    ]),
    ("invalid-snmp-key-extension-without-aes256.toml", &[
        "invalid-snmp-key-extension-without-aes256.toml:6:162: device[0].snmp.key_extension: key_extension only applies to priv = \"aes192\" or \"aes256\"; remove it",
    ]),
    ("invalid-snmp-max-repetitions-v1.toml", &[
        "invalid-snmp-max-repetitions-v1.toml:6:43: device[0].snmp.max_repetitions: max_repetitions is for GETBULK, which SNMPv1 does not have; remove it or set version = \"2c\"",
    ]),
    ("invalid-snmp-max-repetitions.toml", &[
        "invalid-snmp-max-repetitions.toml:3:28: defaults.snmp.max_repetitions: max_repetitions must be between 1 and 1000 (rows asked for in one GETBULK request), not 5000",
    ]),
    ("invalid-snmp-pass-file-control.toml", &[
        "invalid-snmp-pass-file-control.toml:6:70: device[0].snmp.auth_pass_file: path contains the control character U+000A at character 13; control characters (NUL, newline, tab and the like) are not allowed",
    ]),
    ("invalid-snmp-pass-file-empty.toml", &[
        "invalid-snmp-pass-file-empty.toml:6:70: device[0].snmp.auth_pass_file: \"secrets/empty_pass\" is empty; put the pass phrase in it",
    ]),
    ("invalid-snmp-pass-file-missing.toml", &[
        "invalid-snmp-pass-file-missing.toml:6:70: device[0].snmp.auth_pass_file: cannot read \"secrets/no-such-file\": no such file (a relative path starts at this config file's folder)",
    ]),
    ("invalid-snmp-pass-file-short.toml", &[
        "invalid-snmp-pass-file-short.toml:6:70: device[0].snmp.auth_pass_file: the pass phrase in \"secrets/short_pass\" is shorter than 8 characters; net-snmp refuses shorter ones, so it cannot be the one set on the device",
    ]),
    ("invalid-snmp-pass-file-two-lines.toml", &[
        "invalid-snmp-pass-file-two-lines.toml:6:70: device[0].snmp.auth_pass_file: \"secrets/two_lines\" has more than one line; put only the pass phrase in it",
    ]),
    ("invalid-snmp-pass-file-without-protocol.toml", &[
        "invalid-snmp-pass-file-without-protocol.toml:6:56: device[0].snmp.auth_pass_file: auth_pass_file is set but auth is not; set auth to the protocol the device uses: one of md5, sha, sha224, sha256, sha384, sha512",
        "invalid-snmp-pass-file-without-protocol.toml:11:108: device[1].snmp.priv_pass_file: priv_pass_file is set but priv is not; set priv to the cipher the device uses: one of des, aes128, aes192, aes256",
    ]),
    ("invalid-snmp-port.toml", &[
        "invalid-snmp-port.toml:6:17: device[0].snmp.port: port must be between 1 and 65535 (the agent's UDP port), not 0",
    ]),
    ("invalid-snmp-priv-without-auth.toml", &[
        "invalid-snmp-priv-without-auth.toml:6:46: device[0].snmp.priv: priv needs auth: SNMPv3 has no privacy without authentication (RFC 3414); set auth and auth_pass_file as well",
    ]),
    ("invalid-snmp-priv-without-pass-file.toml", &[
        "invalid-snmp-priv-without-pass-file.toml:6:8: device[0].snmp.priv_pass_file: missing `priv_pass_file`: priv = \"aes128\" needs the file holding its pass phrase",
    ]),
    ("invalid-snmp-retries.toml", &[
        "invalid-snmp-retries.toml:3:20: defaults.snmp.retries: retries must be between 0 and 10 (requests sent again after a timeout), not -1",
    ]),
    ("invalid-snmp-short-key-needs-extension.toml", &[
        "invalid-snmp-short-key-needs-extension.toml:6:98: device[0].snmp.priv: priv = \"aes256\" needs a 32-byte key but auth = \"sha\" gives 20 bytes; set key_extension = \"blumenthal\" (net-snmp and most agents) or \"reeder\" (Cisco), as the device does",
    ]),
    ("invalid-snmp-timeout-retries.toml", &[
        "invalid-snmp-timeout-retries.toml:9:20: device[0].snmp.retries: timeout 3s from [defaults.snmp] × (1 + retries 3) = 12s must be shorter than interval 10s from [defaults.snmp]: a poll and its retries have to finish before the next poll starts",
    ]),
    ("invalid-snmp-timeout-zero-no-cascade.toml", &[
        "invalid-snmp-timeout-zero-no-cascade.toml:4:37: defaults.snmp.timeout: timeout must be longer than 0, e.g. \"2s\"",
    ]),
    ("invalid-snmp-timeout-zero.toml", &[
        "invalid-snmp-timeout-zero.toml:3:20: defaults.snmp.timeout: timeout must be longer than 0, e.g. \"2s\"",
    ]),
    ("invalid-snmp-unknown-key.toml", &[
        "invalid-snmp-unknown-key.toml:6:10: device[0].snmp.comunity: unknown key `comunity` in device[0].snmp; expected one of: interval, timeout, retries, version, port, max_repetitions, profiles, community, community_file, user, auth, auth_pass_file, priv, priv_pass_file, key_extension (did you mean `community`?)",
    ]),
    ("invalid-snmp-unknown-profile.toml", &[
        "invalid-snmp-unknown-profile.toml:6:32: device[0].snmp.profiles[1]: unknown profile \"if-mib\"; known: apc_powernet, entity_sensor, h3c, host_resources, huawei, huawei_ups, if_mib, liebert, system, ups_mib (did you mean `if_mib`?)",
    ]),
    ("invalid-snmp-unknown-protocols.toml", &[
        "invalid-snmp-unknown-protocols.toml:6:46: device[0].snmp.auth: unknown auth protocol \"SHA1\"; expected one of: md5, sha, sha224, sha256, sha384, sha512 (did you mean `sha`?)",
        "invalid-snmp-unknown-protocols.toml:6:99: device[0].snmp.priv: unknown priv protocol \"aes\"; expected one of: des, aes128, aes192, aes256 (did you mean `aes128`?)",
        "invalid-snmp-unknown-protocols.toml:6:160: device[0].snmp.key_extension: unknown key_extension \"cisco\"; expected one of: reeder, blumenthal",
    ]),
    ("invalid-snmp-user-control.toml", &[
        "invalid-snmp-user-control.toml:6:32: device[0].snmp.user: user contains the control character U+0000 at character 4; control characters (NUL, newline, tab and the like) are not allowed",
    ]),
    ("invalid-snmp-user-empty.toml", &[
        "invalid-snmp-user-empty.toml:6:32: device[0].snmp.user: user must be 1 to 32 characters long (an SNMPv3 user name, as configured on the device)",
    ]),
    ("invalid-snmp-v3-key-on-v2c.toml", &[
        "invalid-snmp-v3-key-on-v2c.toml:6:17: device[0].snmp.user: user is only for SNMPv3; set version = \"3\"",
    ]),
    ("invalid-snmp-v3-missing-user.toml", &[
        "invalid-snmp-v3-missing-user.toml:6:8: device[0].snmp.user: missing `user`: SNMPv3 needs the user name configured on the device",
    ]),
    ("invalid-snmp-version-number.toml", &[
        "invalid-snmp-version-number.toml:3:20: defaults.snmp.version: expected a string, found integer 3; write the version in quotes: \"1\", \"2c\" or \"3\"",
    ]),
    ("invalid-snmp-version.toml", &[
        "invalid-snmp-version.toml:6:20: device[0].snmp.version: unknown SNMP version \"v2c\"; expected one of: 1, 2c, 3 (did you mean `2c`?)",
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
    ("invalid-timeout-zero-no-cascade.toml", &[
        "invalid-timeout-zero-no-cascade.toml:4:11: defaults.icmp.timeout: timeout must be longer than 0, e.g. \"1s\"",
    ]),
    ("invalid-timeout-zero.toml", &[
        "invalid-timeout-zero.toml:3:11: defaults.icmp.timeout: timeout must be longer than 0, e.g. \"1s\"",
    ]),
    ("invalid-timezone.toml", &[
        "invalid-timezone.toml:3:12: daemon.timezone: unknown time zone \"Asia/Shangai\"; use an IANA name such as \"Asia/Shanghai\" or \"UTC\"",
    ]),
    ("invalid-traps-duplicate-user.toml", &[
        "invalid-traps-duplicate-user.toml:9:8: traps.v3_user[1].user: traps.v3_user[0] (line 5) already has user \"trap\" with this engine_id; list each user and engine once",
    ]),
    ("invalid-traps-empty-community.toml", &[
        "invalid-traps-empty-community.toml:3:28: traps.communities[1]: must not be empty; write a community the devices send traps with",
    ]),
    ("invalid-traps-engine-id.toml", &[
        "invalid-traps-engine-id.toml:6:13: traps.v3_user[0].engine_id: engine_id \"80:00:1f:88\" is not hex; write the engine ID as an even number of hex digits, e.g. \"80001f8880e9630000d61ff449\"",
        "invalid-traps-engine-id.toml:10:13: traps.v3_user[1].engine_id: engine_id is 4 bytes long; an SNMP engine ID is 5 to 32 bytes (RFC 3411), e.g. \"80001f8880e9630000d61ff449\"",
    ]),
    ("invalid-traps-unknown-key.toml", &[
        "invalid-traps-unknown-key.toml:6:1: traps.v3_user[0].engine: unknown key `engine` in traps.v3_user[0]; expected one of: user, engine_id, auth, auth_pass_file, priv, priv_pass_file, key_extension",
        "invalid-traps-unknown-key.toml:4:1: traps.v3_user[0].engine_id: missing `engine_id`: v3 traps are keyed to the sending device's snmpEngineID (RFC 3414 §2.6); read it on the device (SNMP-FRAMEWORK-MIB::snmpEngineID.0) and write it in hex",
    ]),
    ("invalid-traps-v3-missing-engine-id.toml", &[
        "invalid-traps-v3-missing-engine-id.toml:4:1: traps.v3_user[0].engine_id: missing `engine_id`: v3 traps are keyed to the sending device's snmpEngineID (RFC 3414 §2.6); read it on the device (SNMP-FRAMEWORK-MIB::snmpEngineID.0) and write it in hex",
    ]),
    ("invalid-traps-v3-priv-without-auth.toml", &[
        "invalid-traps-v3-priv-without-auth.toml:7:8: traps.v3_user[0].priv: priv needs auth: SNMPv3 has no privacy without authentication (RFC 3414); set auth and auth_pass_file as well",
    ]),
    ("invalid-traps.toml", &[
        "invalid-traps.toml:3:10: traps.listen: invalid listen address \"0.0.0.0\"; write IP:PORT, e.g. \"0.0.0.0:162\" (every address) or \"10.1.0.9:1162\"",
    ]),
    ("invalid-unknown-key.toml", &[
        "invalid-unknown-key.toml:3:1: defaults.icmp.intervall: unknown key `intervall` in defaults.icmp; expected one of: interval, timeout, count, down_after, up_after, degraded_loss (did you mean `interval`?)",
    ]),
    ("invalid-unknown-section.toml", &[
        "invalid-unknown-section.toml:2:2: deamon: unknown section `deamon`; expected one of: daemon, defaults, device, line, maintenance, sla, planned, traps, alarm, include, inventory, report, indicator (did you mean `daemon`?)",
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
    assert_eq!(c.sla.flap_window, Duration::from_secs(10 * 60));
    assert_eq!(c.sla.overrides, []);
    assert_eq!(c.planned.core_devices, 0);
    assert_eq!(c.daemon.profile_dirs, Vec::<PathBuf>::new());
    assert_eq!(c.daemon.http_max_connections, 512);
    assert_eq!(c.daemon.store_stall_after, Duration::from_secs(10));
    assert_eq!(c.devices[0].snmp, None, "no `snmp` key: not polled");
    assert!(c.traps.is_none(), "no [traps]: no receiver");
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
    assert_eq!(c.daemon.profile_dirs, [fixtures().join("profiles")]);
    assert_eq!(c.daemon.http_max_connections, 2048);
    assert_eq!(c.daemon.store_stall_after, Duration::from_secs(30));

    let defaults = IcmpSettings {
        interval: Duration::from_secs(20),
        timeout: Duration::from_secs(2),
        count: 5,
        down_after: 4,
        up_after: 3,
        degraded_loss: 0.4,
    };
    assert_eq!(c.defaults.icmp, defaults);

    assert_eq!(c.devices.len(), 4);
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

    // [defaults.snmp] over the built-ins; every key differs from them.
    let snmp_defaults = |profiles: &[&str], credentials| SnmpSettings {
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(3),
        retries: 2,
        version: SnmpVersion::V2c,
        port: 1161,
        max_repetitions: 50,
        profiles: profiles.iter().map(|p| p.to_string()).collect(),
        credentials,
    };
    let community = |s: &str| Credentials::Community(Secret::new(s));
    assert_eq!(
        r1.snmp,
        Some(SnmpSettings {
            interval: Duration::from_secs(20),
            ..snmp_defaults(&["system", "if_mib"], community("ops-ro"))
        }),
        "device keys over [defaults.snmp]; `community` over `community_file`"
    );
    assert_eq!(
        sw1.snmp,
        Some(SnmpSettings {
            version: SnmpVersion::V3,
            port: 161,
            ..snmp_defaults(
                &["system", "if_mib", "entity_sensor"],
                Credentials::V3 {
                    user: "netkpi".into(),
                    auth: Some((AuthProtocol::Sha1, Secret::new("fixture-auth-pass"))),
                    privacy: Some((PrivProtocol::Aes256, Secret::new("fixture-priv-pass"))),
                    key_extension: Some(KeyExtension::Reeder),
                }
            )
        })
    );
    assert_eq!(
        acc.snmp,
        Some(SnmpSettings {
            version: SnmpVersion::V1,
            ..snmp_defaults(&["system"], community("fixture-community"))
        }),
        "v1 inherits the community file (its trailing newline dropped) and max_repetitions"
    );
    let ups = &c.devices[3];
    assert_eq!((ups.role, ups.icmp.as_ref()), (Role::Ups, None));
    assert_eq!(
        ups.snmp,
        Some(SnmpSettings {
            version: SnmpVersion::V3,
            ..snmp_defaults(
                &["ups_mib", "site_ups"],
                Credentials::V3 {
                    user: "ups".into(),
                    auth: Some((AuthProtocol::Sha512, Secret::new("fixture-auth-pass"))),
                    privacy: None,
                    key_extension: None,
                }
            )
        }),
        "authNoPriv, written as a [device.snmp] table, with a user profile"
    );

    let traps = c.traps.as_ref().expect("[traps]");
    assert_eq!(traps.listen, "0.0.0.0:1162".parse().unwrap());
    assert_eq!(
        traps.communities,
        [Secret::new("ops-trap"), Secret::new("public")]
    );
    assert_eq!(
        traps.v3_users,
        [
            TrapUser {
                user: "trap".into(),
                engine_id: vec![
                    0x80, 0x00, 0x1f, 0x88, 0x80, 0xe9, 0x63, 0x00, 0x00, 0xd6, 0x1f, 0xf4, 0x49
                ],
                auth: Some((AuthProtocol::Sha256, Secret::new("fixture-auth-pass"))),
                privacy: Some((PrivProtocol::Aes128, Secret::new("fixture-priv-pass"))),
                key_extension: None,
            },
            TrapUser {
                user: "trap-noauth".into(),
                engine_id: vec![0x80, 0, 0, 0, 1, 2, 3, 4],
                auth: None,
                privacy: None,
                key_extension: None,
            },
        ]
    );

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
    assert_eq!(l1.severity, Some(Severity::Critical));
    let l2 = &c.lines[1];
    assert_eq!((l2.carrier.as_str(), l2.bandwidth.as_deref()), ("", None));
    assert!(l2.interface.is_none());
    assert_eq!(l2.severity, None, "not written: the default applies later");

    let m = &c.maintenance[0];
    assert_eq!(m.targets, ["core-r1", "L-001"]);
    // Quoted string and bare TOML datetime both accepted.
    assert_eq!(m.start, "2020-05-31T17:00:00Z".parse().unwrap());
    assert_eq!(m.end, "2020-05-31T19:00:00Z".parse().unwrap());
    assert_eq!(m.reason, "firmware upgrade");

    assert_eq!(c.sla.availability_target, 0.995);
    assert_eq!(c.sla.respond_within, Duration::from_secs(15 * 60));
    assert_eq!(c.sla.restore_within, Duration::from_secs(2 * 3600));
    assert_eq!(c.sla.flap_window, Duration::from_secs(5 * 60));
    let nothing = SlaOverride {
        applies_to: SlaMatch::Role(Role::Other),
        availability_target: None,
        respond_within: None,
        restore_within: None,
        severity: None,
    };
    assert_eq!(
        c.sla.overrides,
        [
            SlaOverride {
                applies_to: SlaMatch::Carrier("Carrier A".into()),
                respond_within: Some(Duration::from_secs(3600)),
                restore_within: Some(Duration::from_secs(8 * 3600)),
                ..nothing.clone()
            },
            SlaOverride {
                applies_to: SlaMatch::Role(Role::Ups),
                availability_target: Some(0.99),
                severity: Some(Severity::Major),
                ..nothing.clone()
            },
            SlaOverride {
                applies_to: SlaMatch::Line("L-002".into()),
                severity: Some(Severity::Minor),
                ..nothing.clone()
            },
            SlaOverride {
                applies_to: SlaMatch::Device("core-r1".into()),
                availability_target: Some(0.9999),
                ..nothing
            },
        ]
    );
    assert_eq!(
        (
            c.planned.core_rooms,
            c.planned.core_devices,
            c.planned.access_devices,
            c.planned.leased_lines
        ),
        (1, 17, 150, 150)
    );
    assert_eq!(
        c.profiles_in_use(),
        ["system", "if_mib", "entity_sensor", "ups_mib", "site_ups"]
    );
    assert_eq!(summary(&c), "ok: 4 devices, 2 lines, 5 profiles");
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
    // With the profiles, as `netkpi check` reads it: its alarms' metrics
    // are checked against them.
    let c = crate::loader::load(&manifest_dir().join("config/full.toml"))
        .map(|l| l.config)
        .unwrap_or_else(|ds| panic!("{ds:#?}"));
    assert_eq!(summary(&c), "ok: 8 devices, 4 lines, 5 profiles");
    let v3 = c.devices[1].snmp.as_ref().expect("core-sw1 polls SNMP");
    assert!(
        matches!(
            &v3.credentials,
            Credentials::V3 {
                privacy: Some(_),
                ..
            }
        ),
        "{v3:?}"
    );
    assert_eq!(c.traps.as_ref().map(|t| t.v3_users.len()), Some(1));
    // It shows every key: one override of each kind, a line's own severity.
    let kinds: Vec<u8> = c
        .sla
        .overrides
        .iter()
        .map(|o| o.applies_to.specificity())
        .collect();
    assert_eq!(kinds, [1, 2, 0, 2]);
    assert_eq!(c.lines[2].severity, Some(Severity::Critical));
    // And an alarm with every key, the prefix added to its metric.
    assert_eq!(
        c.alarms[0],
        Alarm {
            name: "ups-on-battery".into(),
            metric: "netkpi_ups_on_battery".into(),
            op: Comparison::Eq,
            value: 1.0,
            severity: Some(Severity::Critical),
            hold: Duration::from_secs(60),
            devices: vec!["ups-1".into()],
            labels: Vec::new(),
            trap: None,
        }
    );
    assert_eq!(c.alarms[1].labels, [("ups_input_line".into(), "1".into())]);
    assert_eq!(
        c.alarms[1].condition(),
        "netkpi_ups_input_voltage_volts{ups_input_line=\"1\"} < 198"
    );
    assert!(c.alarms[1].devices.is_empty() && c.alarms[1].severity.is_none());
    // And a trap alarm, whose condition is its trap's.
    assert_eq!(c.alarms[2].trap, Some(crate::config::TrapAlarm::LinkDown));
    assert_eq!(
        c.alarms[2].condition(),
        "trap link_down{if_name=\"GigabitEthernet0/0/1\"}"
    );
    assert_eq!(
        (c.alarms[2].metric.as_str(), c.alarms[2].value),
        ("netkpi_if_oper_up", 0.0)
    );
}

/// Without `daemon.api_token_file` the API must listen on loopback only:
/// its write endpoints would otherwise take writes from the network.
#[test]
fn a_listen_address_off_loopback_needs_an_api_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("token"), "t0ken\n").unwrap();
    let path = dir.path().join("netkpi.toml");
    let check = |listen: &str, token: bool| {
        let token = if token {
            "api_token_file = \"token\"\n"
        } else {
            ""
        };
        let text = format!("[daemon]\nlisten = \"{listen}\"\n{token}");
        load_str(&path, &text)
            .map(|c| c.daemon.listen)
            .map_err(|ds| {
                ds.iter()
                    .map(|d| format!("{}:{} {}", d.line, d.col, d.path))
                    .collect::<Vec<_>>()
            })
    };
    for listen in [
        "127.0.0.1:9731",
        "127.8.9.10:80",
        "[::1]:9731",
        "[::ffff:127.0.0.1]:9731",
    ] {
        assert_eq!(
            check(listen, false),
            Ok(listen.parse().unwrap()),
            "{listen}"
        );
    }
    for listen in [
        "0.0.0.0:9731",
        "[::]:9731",
        "10.1.0.9:9731",
        "[fd00::9]:9731",
    ] {
        assert_eq!(
            check(listen, false),
            Err(vec!["2:10 daemon.listen".to_string()]),
            "{listen}"
        );
        assert_eq!(check(listen, true), Ok(listen.parse().unwrap()), "{listen}");
    }
    // Left out, `listen` is loopback.
    assert!(load_str(&path, "[daemon]\n").is_ok());
}

/// An `api_token_file` that is itself wrong is reported there, not again as
/// a missing token at `listen`.
#[test]
fn a_bad_api_token_file_is_not_also_a_missing_token() {
    let text = "[daemon]\nlisten = \"0.0.0.0:9731\"\napi_token_file = \"\"\n";
    let got = load_str(Path::new("t.toml"), text).unwrap_err();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].path, "daemon.api_token_file");
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

#[test]
fn a_device_snmp_with_only_profiles_takes_every_builtin_default() {
    let text = "[[device]]\nname = \"r1\"\nrole = \"router\"\naddress = \"10.0.0.1\"\nsnmp = { profiles = [\"system\"] }\n";
    let c = load_str(Path::new("t.toml"), text).expect("loads");
    assert_eq!(
        c.devices[0].snmp,
        Some(SnmpSettings {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(2),
            retries: 1,
            version: SnmpVersion::V2c,
            port: 161,
            max_repetitions: 25,
            profiles: vec!["system".into()],
            credentials: Credentials::Community(Secret::new("public")),
        })
    );
    assert_eq!(summary(&c), "ok: 1 devices, 0 lines, 1 profiles");
}

#[test]
fn a_traps_section_alone_takes_the_builtin_listen_and_community() {
    let c = load_str(Path::new("t.toml"), "[traps]\n").expect("loads");
    let traps = c.traps.expect("[traps] present");
    assert_eq!(traps.listen, "0.0.0.0:162".parse().unwrap());
    assert_eq!(traps.communities, [Secret::new("public")]);
    assert!(traps.v3_users.is_empty());
}

/// `[defaults.snmp]` may prepare one SNMP version and a device use another:
/// keys inherited for the other version are not used, and not errors.
#[test]
fn keys_inherited_for_another_version_are_ignored() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("auth"), "inherited-auth-pass\n").unwrap();
    let text = r#"
[defaults]
snmp = { version = "3", user = "mon", auth = "sha256", auth_pass_file = "auth" }

[[device]]
name = "v3"
role = "router"
address = "10.0.0.1"
snmp = { profiles = ["system"] }

[[device]]
name = "v2c"
role = "router"
address = "10.0.0.2"
snmp = { version = "2c", community = "ops-ro", profiles = ["system"] }
"#;
    let c = load_str(&dir.path().join("netkpi.toml"), text).unwrap_or_else(|ds| panic!("{ds:#?}"));
    assert_eq!(
        c.devices[0].snmp.as_ref().map(|s| &s.credentials),
        Some(&Credentials::V3 {
            user: "mon".into(),
            auth: Some((AuthProtocol::Sha256, Secret::new("inherited-auth-pass"))),
            privacy: None,
            key_extension: None,
        })
    );
    assert_eq!(
        c.devices[1].snmp.as_ref().map(|s| &s.credentials),
        Some(&Credentials::Community(Secret::new("ops-ro")))
    );
}

#[test]
fn a_problem_inherited_by_many_devices_is_reported_once_where_written() {
    let text = r#"
[defaults]
snmp = { version = "3", user = "mon", priv = "aes128", priv_pass_file = "nowhere" }

[[device]]
name = "a"
role = "router"
address = "10.0.0.1"
snmp = { profiles = ["system"] }

[[device]]
name = "b"
role = "router"
address = "10.0.0.2"
snmp = { profiles = ["system"] }
"#;
    let got: Vec<String> = load_str(Path::new("t.toml"), text)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "t.toml:3:46: defaults.snmp.priv: priv needs auth: SNMPv3 has no privacy without authentication (RFC 3414); set auth and auth_pass_file as well",
            "t.toml:3:73: defaults.snmp.priv_pass_file: cannot read \"nowhere\": no such file (a relative path starts at this config file's folder)",
        ]
    );
}

#[test]
fn known_profiles_come_from_the_caller_with_the_resolved_profile_dirs() {
    let text = "[daemon]\nprofile_dirs = [\"profiles\"]\n\n[[device]]\nname = \"r1\"\nrole = \"router\"\naddress = \"10.0.0.1\"\nsnmp = { profiles = [\"mine\", \"system\"] }\n";
    let path = fixtures().join("t.toml");
    let mut asked = Vec::new();
    let c = load_str_with(&path, text, |dirs| {
        asked = dirs.to_vec();
        vec!["mine".to_string(), "system".to_string()]
    })
    .unwrap_or_else(|ds| panic!("{ds:#?}"));
    assert_eq!(asked, [fixtures().join("profiles")]);
    assert_eq!(
        c.devices[0].snmp.as_ref().unwrap().profiles,
        ["mine", "system"]
    );

    let err = load_str_with(&path, text, |_| vec!["system".to_string()]).unwrap_err();
    assert_eq!(err.len(), 1, "{err:#?}");
    assert_eq!(err[0].path, "device[0].snmp.profiles[0]");
    assert_eq!(err[0].message, "unknown profile \"mine\"; known: system");
}

#[test]
fn profile_names_are_the_builtins_then_the_user_files() {
    let names = profile_names(&[fixtures().join("profiles")]);
    let mut expected: Vec<String> = BUILTIN_PROFILE_NAMES
        .iter()
        .map(|n| n.to_string())
        .collect();
    expected.push("site_ups".into());
    assert_eq!(names, expected);
}

/// Sentinel values in every place a secret can be written (issue 3, "Bad
/// input"; STYLE.md habit 5): they reach the resolved config, but neither its
/// Debug output nor any diagnostic.
#[test]
fn secrets_never_appear_in_debug_output_or_diagnostics() {
    const SENTINEL: &str = "SENTINEL-4711";
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, value: &str| std::fs::write(dir.path().join(name), value).unwrap();
    write("community", &format!("{SENTINEL}-community-file\n"));
    write("auth", &format!("{SENTINEL}-auth\r\n"));
    write("priv", &format!("{SENTINEL}-priv"));
    write("two-lines", &format!("{SENTINEL}-one\n{SENTINEL}-two\n"));
    write("short", "S4711x"); // too short: its own sentinel
    let path = dir.path().join("netkpi.toml");

    let good = format!(
        r#"
[defaults]
snmp = {{ community_file = "community" }}

[[device]]
name = "inline"
role = "router"
address = "10.0.0.1"
snmp = {{ community = "{SENTINEL}-inline", profiles = ["system"] }}

[[device]]
name = "from-file"
role = "router"
address = "10.0.0.2"
snmp = {{ profiles = ["system"] }}

[[device]]
name = "v3"
role = "router"
address = "10.0.0.3"
snmp = {{ version = "3", user = "mon", auth = "sha", auth_pass_file = "auth", priv = "aes128", priv_pass_file = "priv", profiles = ["system"] }}

[traps]
communities = ["{SENTINEL}-trap"]

[[traps.v3_user]]
user = "trap"
engine_id = "80001f8880e9630000d61ff449"
auth = "sha"
auth_pass_file = "auth"
"#
    );
    let c = load_str(&path, &good).unwrap_or_else(|ds| panic!("{ds:#?}"));
    // The values are there for the one place that sends them...
    let creds: Vec<&Credentials> = c
        .devices
        .iter()
        .map(|d| &d.snmp.as_ref().unwrap().credentials)
        .collect();
    assert_eq!(
        creds[0],
        &Credentials::Community(Secret::new(format!("{SENTINEL}-inline")))
    );
    assert_eq!(
        creds[1],
        &Credentials::Community(Secret::new(format!("{SENTINEL}-community-file")))
    );
    let Credentials::V3 { auth, privacy, .. } = creds[2] else {
        panic!("{:?}", creds[2]);
    };
    assert_eq!(
        auth.as_ref().unwrap().1.expose(),
        format!("{SENTINEL}-auth")
    );
    assert_eq!(
        privacy.as_ref().unwrap().1.expose(),
        format!("{SENTINEL}-priv")
    );
    // ...and nowhere else.
    for text in [format!("{c:?}"), format!("{c:#?}")] {
        assert!(!text.contains("SENTINEL"), "{text}");
    }

    // Every kind of mistake next to a secret.
    let bad = format!(
        r#"
[[device]]
name = "both"
role = "router"
address = "10.0.0.1"
snmp = {{ community = "{SENTINEL}-a", community_file = "community", profiles = ["system"] }}

[[device]]
name = "v3-with-community"
role = "router"
address = "10.0.0.2"
snmp = {{ version = "3", user = "mon", community = "{SENTINEL}-b", profiles = ["system"] }}

[[device]]
name = "files"
role = "router"
address = "10.0.0.3"
snmp = {{ version = "3", user = "mon", auth = "sha", auth_pass_file = "short", priv = "des", priv_pass_file = "two-lines", profiles = ["system"] }}

[[device]]
name = "typo-and-number"
role = "router"
address = "10.0.0.4"
snmp = {{ comunity = "{SENTINEL}-c", profiles = ["system"] }}

[[device]]
name = "number"
role = "router"
address = "10.0.0.5"
snmp = {{ community = 47114711, profiles = ["system"] }}

[traps]
communities = ["{SENTINEL}-d", 47114712]
"#
    );
    let diags = load_str(&path, &bad).unwrap_err();
    let printed: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(printed.len(), 7, "{printed:#?}");
    for text in printed.iter().cloned().chain([format!("{diags:?}")]) {
        for secret in ["SENTINEL", "S4711x", "4711471"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert!(
        printed
            .iter()
            .any(|p| p.ends_with("device[4].snmp.community: expected a string, found integer")),
        "{printed:#?}"
    );
}

#[test]
fn a_form_with_every_rule_and_its_manual_values() {
    let dir = tempfile::tempdir().unwrap();
    let form = r#"
[report]
indicators_file = "form.toml"
manual_file = "manual.toml"
total_weight = 30
"#;
    let rows = r#"
[[indicator]]
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "时效指标", en = "Timeliness" }
name = { zh = "平均恢复时间", en = "Mean time to restore (h)" }
source = "mean_time_to_restore"
target = "4h"
weight = 10

[[indicator]]
id = "lines"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "数量指标", en = "Quantity" }
name = { zh = "专线", en = "Lines" }
source = "lines_monitored"
target = 150
weight = 10
score = "steps"

[[indicator.steps]]
at = 140
score = 6

[[indicator.steps]]
at = 150
score = 10

[[indicator]]
id = "budget"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "成本指标", en = "Cost" }
name = { zh = "预算执行率", en = "Budget" }
source = "manual"
unit = "%"
target = 100
weight = 10
score = "threshold"
"#;
    std::fs::write(dir.path().join("form.toml"), rows).unwrap();
    std::fs::write(
        dir.path().join("manual.toml"),
        "budget = { value = 97.5, note = \"final accounts\" }\n",
    )
    .unwrap();
    let path = dir.path().join("netkpi.toml");
    let config = load_str(&path, form).unwrap_or_else(|ds| {
        panic!(
            "{}",
            ds.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let r = &config.report;
    assert_eq!(r.total_weight, 30.0);
    let ids: Vec<&str> = r.indicators.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["mean_time_to_restore_h", "lines", "budget"]);
    let mttr = &r.indicators[0];
    assert_eq!(mttr.target, 4.0 * 3600.0);
    assert_eq!(mttr.direction, report::Direction::Lower);
    // Less is better without a floor: twice the target scores nothing.
    assert_eq!(
        mttr.score,
        report::ScoreRule::Linear {
            floor: 8.0 * 3600.0
        }
    );
    // Steps sorted best first.
    assert_eq!(
        r.indicators[1].score,
        report::ScoreRule::Steps(vec![
            report::Step {
                at: 150.0,
                score: 10.0
            },
            report::Step {
                at: 140.0,
                score: 6.0
            },
        ])
    );
    assert_eq!(r.manual["budget"].value, 97.5);
    assert_eq!(r.manual["budget"].note.as_deref(), Some("final accounts"));

    // Rows both here and in the file: refused.
    let both = format!("{form}\n{rows}");
    let errs = load_str(&path, &both).unwrap_err();
    assert!(
        errs.iter().any(|d| d.message.contains("not in both")),
        "{errs:?}"
    );
}

/// Configs over several files (`include`, `[[inventory]]`), one folder each
/// under `files/`, its config file `netkpi.toml`: exactly what `netkpi
/// check` prints, paths relative to that folder.
const INVALID_FILES: &[(&str, &[&str])] = &[
    ("invalid-include-duplicate", &[
        "conf.d/10-room.toml:8:8: device[1].name: duplicate device name \"core-r1\"; netkpi.toml:4:8 already uses it",
        "conf.d/10-room.toml:9:8: device[1].role: unknown role \"routr\"; expected one of: router, core_switch, aggregation_switch, access_egress, firewall, ips, load_balancer, ups, air_conditioner, env_sensor, other (did you mean `router`?)",
        "conf.d/20-lines.toml:2:6: line[0].id: line id \"core-sw1\" is also the name of conf.d/10-room.toml:2:8; maintenance targets name devices and lines alike, so rename one",
        "conf.d/20-lines.toml:4:10: line[0].device: no device named \"acc-001\"",
    ]),
    ("invalid-include-no-match", &[
        "netkpi.toml:2:12: include[0]: \"conf.d/*.toml\" matches no file (a relative pattern starts at this config file's folder, \".\")",
    ]),
    ("invalid-include-sections", &[
        "conf.d/10-room.toml:2:1: include: an included file cannot include others (includes do not nest); list every pattern in the config file's `include`",
        "conf.d/10-room.toml:4:2: daemon: [daemon] may only be in the config file; an included file holds only [[device]], [[line]], [[maintenance]], [[alarm]]",
        "conf.d/10-room.toml:7:3: devices: unknown section `devices`; an included file holds only [[device]], [[line]], [[maintenance]], [[alarm]] (did you mean `device`?)",
    ]),
    ("invalid-include-syntax", &[
        "conf.d/10-room.toml:4:16: device[0].address: TOML syntax error: invalid float; if this is text (an address, a name), put it in quotes",
    ]),
    ("invalid-inventory-cells", &[
        "lines.csv:7:6: row: a value in column 6, which has no header; give the column a header",
        "lines.csv:8:7: row: a value in column 7, beyond the header's 6 columns; give the column a header, or quote a value that holds the delimiter",
        "lines.csv:4:2: column 单位: must not be empty",
        "lines.csv:4:3: column device: no device named \"acc-009\"",
        "lines.csv:5:1: column 专线编号: invalid line id \"L 3\"; use only letters, digits, `_`, `.` and `-`",
        "lines.csv:6:1: column 专线编号: duplicate line id \"L-001\"; row 2 already uses it",
    ]),
    ("invalid-inventory-entry", &[
        "netkpi.toml:7:1: inventory[0].file: missing `file`: the CSV file to read, e.g. \"lines.csv\"",
        "netkpi.toml:8:8: inventory[0].kind: unknown kind \"lines\"; expected \"line\" or \"device\" (did you mean `line`?)",
        "netkpi.toml:13:13: inventory[1].delimiter: must be one ASCII character other than a quote or a line break, e.g. \";\" or \"\\t\"",
        "netkpi.toml:14:11: inventory[1].columns.idd: unknown key `idd` for a line inventory; expected one of: id, unit, carrier, bandwidth, device, interface_device, interface_name, severity (did you mean `id`?)",
        "netkpi.toml:15:12: inventory[1].template: a template gives devices their probes; lines have none, leave it out",
        "netkpi.toml:18:8: inventory[2].file: cannot read nowhere.csv: no such file (a relative path starts at this config file's folder)",
    ]),
    ("invalid-inventory-header", &[
        "lines.csv:1:1: header: no column \"运营商\" (given for `carrier` in columns) in the header",
        "lines.csv:1:1: header: the header has no column for `unit`, which every line needs; name one `unit` or map it with columns = { unit = \"header\" }",
        "lines.csv:1:1: header: the header has no column for `device`, which every line needs; name one `device` or map it with columns = { device = \"header\" }",
        "lines.csv:1:2: column unt: unknown column; expected one of: id, unit, carrier, bandwidth, device, interface_device, interface_name, severity (did you mean `unit`?); map a header of your own with columns = { key = \"header\" }, or list it in ignore = [...]",
        "lines.csv:1:3: column 带宽: unknown column; expected one of: id, unit, carrier, bandwidth, device, interface_device, interface_name, severity; map a header of your own with columns = { key = \"header\" }, or list it in ignore = [...]",
        "lines.csv:1:4: column id: `id` is read from column \"专线编号\" (columns); list this one in ignore = [...] or remove it",
        "lines.csv:1:5: column 备注: unknown column; expected one of: id, unit, carrier, bandwidth, device, interface_device, interface_name, severity; map a header of your own with columns = { key = \"header\" }, or list it in ignore = [...]",
    ]),
    ("invalid-inventory-interface", &[
        "lines.csv:2:4: column interface_device: `interface_device` without `interface_name`: the core-side port needs both, the device that has it and its ifName (or neither)",
        "lines.csv:3:5: column interface_name: `interface_name` without `interface_device`: the core-side port needs both, the device that has it and its ifName (or neither)",
        "lines.csv:3:6: column severity: unknown severity \"urgent\"; expected one of: critical, major, minor",
        "lines.csv:4:4: column interface_device: device \"acc-001\" has no SNMP polling with the if_mib profile; a line's interface state comes from IF-MIB, so give that device snmp = { profiles = [\"if_mib\"] }",
    ]),
    ("invalid-inventory-not-utf8", &[
        "lines.csv:2:2: column unit: not UTF-8 text; save the file as UTF-8 (in Excel: \"CSV UTF-8\")",
    ]),
    ("invalid-inventory-template", &[
        "netkpi.toml:4:31: inventory[0].template.icmp.count: count must be between 1 and 100 (echoes per round), not 0",
        "devices.csv:2:4: column snmp_profiles: unknown profile \"if_mibb\"; known: apc_powernet, entity_sensor, h3c, host_resources, huawei, huawei_ups, if_mib, liebert, system, ups_mib (did you mean `if_mib`?)",
        "devices.csv:4:2: column role: unknown role \"routr\"; expected one of: router, core_switch, aggregation_switch, access_egress, firewall, ips, load_balancer, ups, air_conditioner, env_sensor, other (did you mean `router`?)",
        "devices.csv:4:3: column address: \"127.0.0.300\" is not a valid IPv4 address: write four numbers 0-255, e.g. \"10.1.0.1\"",
    ]),
];

/// The diagnostics of `files/NAME/netkpi.toml` as printed, with that
/// folder left out (and shown as `.` where a message names it).
fn file_set_diagnostics(name: &str) -> Vec<String> {
    let dir = fixtures().join("files").join(name).display().to_string();
    match crate::loader::load(&Path::new(&dir).join("netkpi.toml")) {
        Ok(_) => vec![format!("{name} loaded without errors")],
        Err(ds) => ds
            .iter()
            .map(|d| {
                d.to_string()
                    .replace(&format!("{dir}/"), "")
                    .replace(&dir, ".")
            })
            .collect(),
    }
}

#[test]
fn each_invalid_file_set_reports_exactly_its_mistakes() {
    let mut failures = Vec::new();
    for (name, expected) in INVALID_FILES {
        let got = file_set_diagnostics(name);
        if got != *expected {
            failures.push(format!("{name}:\n  expected {expected:#?}\n  got {got:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_invalid_file_set_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures().join("files"))
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
    let mut tested: Vec<String> = INVALID_FILES.iter().map(|(n, _)| n.to_string()).collect();
    tested.sort();
    assert_eq!(on_disk, tested);
}

#[test]
fn a_config_over_several_files_resolves_as_one() {
    let dir = fixtures().join("files/valid-split");
    let config = load_ok(&dir.join("netkpi.toml"));
    let names: Vec<&str> = config.devices.iter().map(|d| d.name.as_str()).collect();
    // The config file's own entries, then the fragments', then the CSV rows.
    assert_eq!(names, ["core-r1", "core-sw1", "acc-001", "ups-1"]);

    // A CSV row takes the template's probes, over [defaults].
    let acc = &config.devices[2];
    assert_eq!(acc.role, Role::AccessEgress);
    assert_eq!(acc.site, "Finance Bureau");
    assert_eq!(acc.parent.as_deref(), Some("core-sw1"));
    assert_eq!(acc.icmp.as_ref().unwrap().interval, Duration::from_secs(30));
    let snmp = acc.snmp.as_ref().unwrap();
    assert_eq!(snmp.profiles, ["system"]);
    assert_eq!(snmp.port, 1161);
    assert_eq!(
        snmp.credentials,
        Credentials::Community(Secret::new("campus"))
    );
    // `snmp_profiles` replaces the template's list, keeping its other keys.
    let ups = &config.devices[3];
    assert_eq!(ups.parent, None);
    let snmp = ups.snmp.as_ref().unwrap();
    assert_eq!(snmp.profiles, ["system", "ups_mib"]);
    assert_eq!(snmp.port, 1161);

    // Lines from a CSV with its own headers, a BOM, a quoted comma and a
    // blank line; empty optional cells are keys left out.
    assert_eq!(config.lines.len(), 2);
    let l1 = &config.lines[0];
    assert_eq!(
        (l1.id.as_str(), l1.unit.as_str(), l1.carrier.as_str()),
        ("L-001", "Finance Bureau, east wing", "Carrier A")
    );
    assert_eq!(l1.bandwidth.as_deref(), Some("100M"));
    let iface = l1.interface.as_ref().unwrap();
    assert_eq!(
        (iface.device.as_str(), iface.name.as_str()),
        ("core-r1", "GigabitEthernet0/0/1")
    );
    let l2 = &config.lines[1];
    assert_eq!((l2.unit.as_str(), l2.carrier.as_str()), ("财政局", ""));
    assert_eq!(l2.bandwidth, None);
    assert!(l2.interface.is_none());
    assert_eq!(config.maintenance[0].targets, ["core-sw1", "L-002"]);

    let files: Vec<(String, usize, usize, usize)> = config
        .files
        .iter()
        .map(|f| {
            let name = f.file.strip_prefix(&dir).unwrap().display().to_string();
            (name, f.devices, f.lines, f.maintenance)
        })
        .collect();
    assert_eq!(
        files,
        [
            ("netkpi.toml".to_string(), 1, 0, 0),
            ("conf.d/10-room.toml".to_string(), 1, 0, 1),
            ("devices.csv".to_string(), 2, 0, 0),
            ("lines.csv".to_string(), 0, 2, 0),
        ]
    );
}
