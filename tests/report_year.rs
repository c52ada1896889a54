//! `netkpi report` over a synthetic year (tests/common/year.rs): the real
//! binary reads a store written through the crate's `Store`, and every
//! figure of its JSON, CSV and Markdown is compared with what the schedule
//! gives by plain arithmetic. Then the inputs it must refuse.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::year::{local, year, Expected, Year};
use jiff::Timestamp;
use serde_json::Value;

/// The test's own evaluation form: one row per kind of source and rule.
const FORM: &str = r#"
[report]
manual_file = "manual.toml"

[[indicator]]
id = "core_devices"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "数量指标", en = "Quantity" }
name = { zh = "核心设备", en = "Core devices" }
source = "devices_monitored.core"
target = 2
weight = 10
score = "threshold"

[[indicator]]
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "数量指标", en = "Quantity" }
name = { zh = "专线", en = "Leased lines" }
source = "lines_monitored"
target = 4
weight = 10

[[indicator]]
id = "availability"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "质量指标", en = "Quality" }
name = { zh = "网络可用率", en = "Availability" }
source = "availability"
target = 0.9999
floor = 0.999
weight = 20

[[indicator]]
id = "units"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "数量指标", en = "Quantity" }
name = { zh = "接入单位", en = "Units connected" }
source = "units_connected"
target = 1
weight = 10

[[indicator]]
id = "faults"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "质量指标", en = "Quality" }
name = { zh = "故障数", en = "Faults" }
source = "faults"
target = 5
weight = 10
score = "threshold"

[[indicator]]
id = "acknowledged"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "时效指标", en = "Timeliness" }
name = { zh = "及时响应率", en = "Acknowledged in time" }
source = "acknowledged_within_share"
target = 0.9
weight = 10
score = "threshold"

[[indicator]]
id = "restored"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "时效指标", en = "Timeliness" }
name = { zh = "及时恢复率", en = "Restored in time" }
source = "restored_within_share"
target = 0.9
floor = 0.5
weight = 10

[[indicator]]
id = "mttr"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "时效指标", en = "Timeliness" }
name = { zh = "平均恢复时间", en = "Mean time to restore" }
source = "mean_time_to_restore"
target = "2h"
floor = "4h"
weight = 10

[[indicator]]
id = "satisfaction"
level1 = { zh = "满意度指标", en = "Satisfaction" }
level2 = { zh = "满意度", en = "Satisfaction" }
name = { zh = "满意度", en = "Satisfaction" }
source = "manual"
unit = "%"
target = 90
floor = 60
weight = 10
"#;

const MANUAL: &str = "satisfaction = { value = 95, note = \"survey, December\" }\n";

fn netkpi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_netkpi"))
}

/// A directory with the year's store, config, form and manual values.
struct Setup {
    dir: tempfile::TempDir,
    year: Year,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let year = year();
        year.write_store(&dir.path().join("data"));
        std::fs::write(dir.path().join("netkpi.toml"), year.config("data", FORM)).unwrap();
        std::fs::write(dir.path().join("manual.toml"), MANUAL).unwrap();
        Setup { dir, year }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("netkpi.toml")
    }

    fn report(&self, args: &[&str]) -> Output {
        netkpi()
            .args(["report", "--config"])
            .arg(self.config())
            .args(args)
            .output()
            .expect("run netkpi report")
    }

    /// `netkpi report` that must succeed; returns what it wrote at `out`.
    fn written(&self, args: &[&str], out: &str) -> PathBuf {
        let path = self.dir.path().join(out);
        let mut all: Vec<&str> = args.to_vec();
        let path_text = path.to_str().unwrap().to_string();
        all.extend(["--out", &path_text]);
        let o = self.report(&all);
        assert!(
            o.status.success(),
            "netkpi report {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        path
    }
}

/// The year 2020 in Asia/Shanghai.
fn year_2020() -> (Timestamp, Timestamp) {
    (local("2020-01-01 00:00"), local("2021-01-01 00:00"))
}

fn assert_figures(f: &Value, x: &Expected, what: &str) {
    let s = |k: &str| {
        f[k].as_f64()
            .unwrap_or_else(|| panic!("{what}: {k} in {f}"))
    };
    assert_eq!(s("up_s"), x.up as f64, "{what}: up_s");
    assert_eq!(s("degraded_s"), x.degraded as f64, "{what}: degraded_s");
    assert_eq!(s("down_s"), x.down as f64, "{what}: down_s");
    assert_eq!(s("unknown_s"), x.unknown as f64, "{what}: unknown_s");
    assert_eq!(
        s("maintenance_s"),
        x.maintenance as f64,
        "{what}: maintenance_s"
    );
    assert_eq!(
        f["outages"].as_u64(),
        Some(u64::from(x.outages)),
        "{what}: outages"
    );
    assert_eq!(s("longest_outage_s"), x.longest as f64, "{what}: longest");
    match x.availability() {
        Some(a) => assert!(
            (s("availability") - a).abs() < 1e-12,
            "{what}: availability"
        ),
        None => assert!(f["availability"].is_null(), "{what}: availability"),
    }
}

/// Pooled availability of several targets' expectations.
fn pooled(parts: &[Expected]) -> f64 {
    let avail: i64 = parts.iter().map(|x| x.up + x.degraded).sum();
    let observed: i64 = parts.iter().map(|x| x.up + x.degraded + x.down).sum();
    avail as f64 / observed as f64
}

/// Linear score: full at the target, 0 at the floor.
fn linear(actual: f64, target: f64, floor: f64, weight: f64) -> f64 {
    let r = ((actual - floor) / (target - floor)).clamp(0.0, 1.0);
    weight * r
}

/// The incidents the form judges: opened in 2020, not planned. For each:
/// (target, opened, response s, restore s).
fn judged(year: &Year) -> Vec<(&'static str, Timestamp, Option<i64>, i64)> {
    let (from, to) = year_2020();
    year.incidents
        .iter()
        .filter(|i| !i.planned && i.opened >= from && i.opened < to)
        .map(|i| {
            let restored = *i.restored.last().unwrap();
            (
                i.target,
                i.opened,
                i.ack.map(|(at, _)| at.as_second() - i.opened.as_second()),
                restored.as_second() - i.opened.as_second(),
            )
        })
        .collect()
}

#[test]
fn a_synthetic_year_in_json_csv_and_markdown() {
    let setup = Setup::new();
    let y = &setup.year;
    let (from, to) = year_2020();

    let json_path = setup.written(
        &["--year", "2020", "--format", "json", "--lang", "en"],
        "r.json",
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();

    // The period: the local calendar year.
    assert_eq!(r["period"]["from"], "2020-01-01T00:00:00.000+08:00");
    assert_eq!(r["period"]["to"], "2021-01-01T00:00:00.000+08:00");
    assert!(r["notice"].is_null());

    // Every line and device against the schedule.
    let mut expected = std::collections::HashMap::new();
    for t in y.targets() {
        expected.insert(t, y.expected(t, from, to));
    }
    let lines = r["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    for l in lines {
        let id = l["id"].as_str().unwrap();
        let x = &expected[id];
        assert_figures(l, x, id);
        assert_eq!(
            l["met_target"].as_bool(),
            Some(x.availability().unwrap() >= 0.999),
            "{id}"
        );
    }
    let devices = r["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 5);
    // Grouped by role: the router, the core switch, then access.
    let names: Vec<&str> = devices
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["core-r1", "core-sw1", "acc-001", "acc-002", "acc-003"]
    );
    for d in devices {
        let name = d["name"].as_str().unwrap();
        assert_figures(d, &expected[name], name);
    }
    // The edges the schedule was built for, spelled out.
    assert_eq!(
        expected["L-001"].down, 3600,
        "only 2020's hour of the year-crossing outage"
    );
    assert_eq!(expected["L-003"].down, 1800);
    assert_eq!(
        expected["core-sw1"].down, 1800,
        "the window takes 01:00-02:00"
    );
    assert_eq!(
        expected["core-r1"].outages, 1,
        "one outage across the restart"
    );
    assert_eq!(expected["core-r1"].down, 5400);
    assert_eq!(expected["acc-003"].outages, 2, "the flap's two down spans");
    assert_eq!(
        expected["L-002"].down,
        9 * 3600,
        "the reclassified hour is maintenance"
    );
    assert_eq!(expected["L-002"].maintenance, 3600);

    // Month by month: each month against the schedule, months adding up
    // to the year, lines adding up to their group.
    let months = r["monthly"]["months"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    let rows = r["monthly"]["rows"].as_array().unwrap();
    for row in rows.iter().filter(|r| r["kind"] != "group") {
        let t = row["target"].as_str().unwrap();
        let cells = row["months"].as_array().unwrap();
        let mut down_sum = 0.0;
        for (m, cell) in cells.iter().enumerate() {
            let m_from = local(&format!("2020-{:02}-01 00:00", m + 1));
            let m_to = if m == 11 {
                to
            } else {
                local(&format!("2020-{:02}-01 00:00", m + 2))
            };
            assert_figures(
                cell,
                &y.expected(t, m_from, m_to),
                &format!("{t} month {}", m + 1),
            );
            down_sum += cell["down_s"].as_f64().unwrap();
        }
        assert_eq!(
            down_sum,
            row["total"]["down_s"].as_f64().unwrap(),
            "{t}: months add up"
        );
        assert_figures(&row["total"], &expected[t], t);
    }
    // acc-001's outage is split 30 min / 30 min between January and February.
    let acc = rows.iter().find(|r| r["target"] == "acc-001").unwrap();
    assert_eq!(acc["months"][0]["down_s"], 1800.0);
    assert_eq!(acc["months"][1]["down_s"], 1800.0);
    let group = |name: &str| {
        rows.iter()
            .find(|r| r["kind"] == "group" && r["target"] == name)
            .unwrap()
    };
    let lines_down: f64 = ["L-001", "L-002", "L-003"]
        .iter()
        .map(|l| expected[l].down as f64)
        .sum();
    assert_eq!(group("lines")["total"]["down_s"].as_f64(), Some(lines_down));
    let all: Vec<Expected> = y.targets().iter().map(|t| expected[t]).collect();
    let all_avail = pooled(&all);
    assert!((group("all")["total"]["availability"].as_f64().unwrap() - all_avail).abs() < 1e-12);

    // The form, row by row.
    let form = &r["form"];
    let row = |id: &str| {
        form["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("row {id}"))
            .clone()
    };
    let near = |v: &Value, want: f64, what: &str| {
        let got = v.as_f64().unwrap_or_else(|| panic!("{what}: {v}"));
        assert!((got - want).abs() < 1e-9, "{what}: {got} != {want}");
    };
    let mut total = 0.0;
    let mut check = |id: &str, actual: f64, score: f64| {
        let r = row(id);
        near(&r["actual"], actual, &format!("{id}.actual"));
        near(&r["score"], score, &format!("{id}.score"));
        total += score;
        r
    };
    check("core_devices", 2.0, 10.0);
    // name.en "Leased lines" gives the id.
    check("leased_lines", 3.0, 7.5);
    check(
        "availability",
        all_avail,
        linear(all_avail, 0.9999, 0.999, 20.0),
    );
    let lines_met = ["L-001", "L-002", "L-003"]
        .iter()
        .filter(|l| expected[*l].availability().unwrap() >= 0.999)
        .count();
    assert_eq!(lines_met, 2, "L-002's nine hours miss 99.9 %");
    let units = lines_met as f64 / 3.0;
    let r_units = check("units", units, 10.0 * units);
    assert!(
        r_units["deviation"].as_str().unwrap().contains("L-002"),
        "{r_units}"
    );

    let faults = judged(y);
    assert_eq!(
        faults.len(),
        6,
        "incident 1 opened in 2019, incident 6 is planned"
    );
    let r_faults = check("faults", 6.0, 0.0);
    assert!(
        r_faults["deviation"].as_str().unwrap().contains("6 faults"),
        "{r_faults}"
    );

    // Met the response deadline: acknowledged within 30 min, or restored
    // within it without anyone acknowledging.
    let respond_met = faults
        .iter()
        .filter(|(_, _, ack, restore)| match ack {
            Some(s) => *s <= 1800,
            None => *restore <= 1800,
        })
        .count();
    let ack_share = respond_met as f64 / 6.0;
    let r_ack = check("acknowledged", ack_share, 0.0);
    let text = r_ack["deviation"].as_str().unwrap();
    assert!(
        text.contains("2 of 6 faults acknowledged after the deadline"),
        "{text}"
    );
    assert!(text.contains("acc-001 2020-01-31 (50.0 min)"), "{text}");
    assert!(
        text.contains("core-r1 2020-07-15 (not acknowledged)"),
        "{text}"
    );

    let restore_met = faults.iter().filter(|(_, _, _, r)| *r <= 4 * 3600).count();
    let restore_share = restore_met as f64 / 6.0;
    let r_rest = check(
        "restored",
        restore_share,
        linear(restore_share, 0.9, 0.5, 10.0),
    );
    let text = r_rest["deviation"].as_str().unwrap();
    assert!(
        text.contains("1 of 6 faults restored after the deadline (4h)"),
        "{text}"
    );
    assert!(text.contains("acc-002 2020-11-11 (300.0 min)"), "{text}");

    let mean = faults.iter().map(|f| f.3 as f64).sum::<f64>() / 6.0;
    assert_eq!(mean, 740.0 * 60.0 / 6.0);
    check("mttr", mean, 10.0 * (4.0 * 3600.0 - mean) / (2.0 * 3600.0));
    let r_sat = check("satisfaction", 95.0, 10.0);
    assert_eq!(r_sat["basis"], "survey, December");
    near(&form["total_score"], total, "total_score");
    assert_eq!(form["total_weight"], 100.0);

    // Incidents open in 2020, oldest first, with who acknowledged.
    let incidents = r["incidents"].as_array().unwrap();
    let ids: Vec<u64> = incidents
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(incidents[1]["acknowledged_by"], "wang");
    assert_eq!(incidents[1]["response_s"], 3000.0);
    assert_eq!(incidents[2]["flaps"], 1);
    assert_eq!(incidents[5]["planned"], true);
    assert_eq!(incidents[6]["sla_met"], false);

    // Maintenance: the config's window and the declared reclassification.
    let windows = r["maintenance"].as_array().unwrap();
    assert_eq!(windows.len(), 2);
    assert_eq!(windows[0]["origin"], "config");
    assert_eq!(windows[1]["origin"], "declared");
    assert_eq!(windows[1]["declared_by"], "zhang");
    assert_eq!(windows[1]["reclassifies"], true);
    assert_eq!(windows[1]["declared_at"], "2020-09-11T09:00:00.000+08:00");

    // The chain head is the one `netkpi verify` computes.
    let verify = netkpi()
        .args(["verify", "--config"])
        .arg(setup.config())
        .output()
        .unwrap();
    let verified = String::from_utf8_lossy(&verify.stdout);
    let head = r["method"]["ledger"]["head"].as_str().unwrap();
    assert!(verified.contains(head), "{verified} vs {head}");
    let records = r["method"]["ledger"]["records"].as_u64().unwrap();
    assert!(
        verified.contains(&format!("ok: {records} records")),
        "{verified}"
    );

    // CSV: the same figures, one file per table.
    let csv_dir = setup.written(
        &["--year", "2020", "--format", "csv", "--lang", "en"],
        "csv",
    );
    let lines_csv = read_csv(&csv_dir.join("lines.csv"));
    assert_eq!(lines_csv[0][0], "Line");
    let col = |header: &[String], name: &str| header.iter().position(|h| h == name).unwrap();
    let (down_col, avail_col) = (
        col(&lines_csv[0], "Downtime (min)"),
        col(&lines_csv[0], "Availability"),
    );
    for row in &lines_csv[1..] {
        let x = &expected[row[0].as_str()];
        assert_eq!(
            row[down_col],
            format!("{:.2}", x.down as f64 / 60.0),
            "{row:?}"
        );
        assert_eq!(
            row[avail_col],
            format!("{:.4}", x.availability().unwrap() * 100.0),
            "{row:?}"
        );
    }
    let monthly = read_csv(&csv_dir.join("monthly_downtime.csv"));
    for row in &monthly[1..] {
        let months: f64 = row[2..14].iter().map(|c| c.parse::<f64>().unwrap()).sum();
        let year_total: f64 = row[14].parse().unwrap();
        assert!((months - year_total).abs() < 0.01 * 12.0, "{row:?}");
    }
    let form_csv = read_csv(&csv_dir.join("form.csv"));
    let last = form_csv.last().unwrap();
    assert_eq!(last[0], "Total");
    assert_eq!(last[8], format!("{total:.2}"));
    let incidents_csv = read_csv(&csv_dir.join("incidents.csv"));
    assert_eq!(incidents_csv.len(), 9);
    for name in ["devices", "monthly", "maintenance", "method"] {
        assert!(csv_dir.join(format!("{name}.csv")).is_file(), "{name}.csv");
    }

    // Markdown, in Chinese: translated headings, the same numbers.
    let md_path = setup.written(
        &["--year", "2020", "--format", "md", "--lang", "zh"],
        "r.md",
    );
    let md = std::fs::read_to_string(md_path).unwrap();
    for heading in [
        "## 绩效自评表",
        "## 专线可用性",
        "## 设备可用性",
        "## 月度可用率",
        "## 故障事件",
        "## 计算方法",
    ] {
        assert!(md.contains(heading), "{heading}");
    }
    assert!(md.contains("| 合计 |"), "total row");
    assert!(md.contains(&format!("{total:.2}")), "total score");
    let l2 = format!("{:.4}", expected["L-002"].availability().unwrap() * 100.0);
    assert!(
        md.lines()
            .any(|l| l.starts_with("| L-002 |") && l.contains(&l2)),
        "L-002 {l2}"
    );
    assert!(
        md.contains("起故障(共 6 起)超过恢复时限"),
        "drafted in Chinese"
    );
    assert!(md.contains(head), "chain head");
    golden("year-2020.zh.md", &md, &r);
    let md_en = setup.written(
        &["--year", "2020", "--format", "md", "--lang", "en"],
        "r-en.md",
    );
    let md_en = std::fs::read_to_string(md_en).unwrap();
    golden("year-2020.en.md", &md_en, &r);
    // Every label was in the translation table ("?" marks one that was not).
    for text in [&md, &md_en] {
        assert!(!text.contains("| ? |"), "an untranslated label");
    }
}

/// Compares a rendering with its golden file in tests/golden/report/, the
/// time it was generated and the ledger's latest commit time (wall-clock
/// times) replaced by placeholders; `NETKPI_BLESS=1` rewrites the file
/// instead (then read the diff).
fn golden(name: &str, text: &str, r: &Value) {
    // Each run has its own generation time: the lines that print it are
    // compared without it.
    let generated = [
        "- Generated:",
        "- 生成时间:",
        "| Generated |",
        "| 生成时间 |",
    ];
    let mut text: String = text
        .lines()
        .map(|l| match generated.iter().find(|g| l.starts_with(*g)) {
            Some(g) => format!("{g} GENERATED_AT\n"),
            None => format!("{l}\n"),
        })
        .collect();
    // The chain hashes commit times too: checked against `netkpi verify`
    // above, left out here.
    text = text.replace(
        r["method"]["ledger"]["head"].as_str().unwrap(),
        "LEDGER_HEAD",
    );
    if let Some(at) = r["method"]["ledger"]["at"].as_str() {
        text = text.replace(at, "LEDGER_AT");
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/report")
        .join(name);
    if std::env::var_os("NETKPI_BLESS").is_some_and(|v| v != "0") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (NETKPI_BLESS=1 writes it)", path.display()));
    if let Some((n, (got, want))) = text
        .lines()
        .zip(want.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        panic!(
            "{name} differs from {} at line {}:\n got: {got}\nwant: {want}\n(NETKPI_BLESS=1 rewrites it; then read the diff)",
            path.display(),
            n + 1
        );
    }
    assert_eq!(
        text.lines().count(),
        want.lines().count(),
        "{name}: line count"
    );
}

/// A CSV file of ours: checks the byte order mark and CRLF, reads RFC 4180
/// quoting.
fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a byte order mark");
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CRLF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "ends with CRLF");
    rows
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn bad_periods_and_outputs_are_refused_with_a_message() {
    let setup = Setup::new();
    let out = setup.dir.path().join("r.json");
    let out = out.to_str().unwrap();

    let o = setup.report(&["--year", "2099", "--out", out]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("starts in the future"),
        "{}",
        stderr(&o)
    );

    let o = setup.report(&["--from", "2020-03-01", "--to", "2020-02-01", "--out", out]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("must be after from"), "{}", stderr(&o));

    let o = setup.report(&["--from", "2020/01/01", "--to", "2020-02-01", "--out", out]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("from=\"2020/01/01\" is not a time"),
        "{}",
        stderr(&o)
    );

    let o = setup.report(&["--month", "2020-13", "--out", out]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a month"), "{}", stderr(&o));

    // A + offset given with a space reads as the + it was.
    let o = setup.report(&[
        "--from",
        "2020-01-01T00:00:00 08:00",
        "--to",
        "2020-02-01",
        "--out",
        out,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert_eq!(r["period"]["from"], "2020-01-01T00:00:00.000+08:00");
    assert_eq!(r["period"]["kind"], "range");

    // An output that cannot be written: a clear error, nothing left behind.
    let blocker = setup.dir.path().join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let bad = blocker.join("r.json");
    let o = setup.report(&["--year", "2020", "--out", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot write"), "{}", stderr(&o));
    assert!(stderr(&o).contains("no report written"), "{}", stderr(&o));
    let csv_bad = blocker.join("csv");
    let o = setup.report(&[
        "--year",
        "2020",
        "--format",
        "csv",
        "--out",
        csv_bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    // CSV is a directory of files: standard output is refused before
    // anything is read, and no directory named "-" appears.
    let o = netkpi()
        .current_dir(setup.dir.path())
        .args(["report", "--config"])
        .arg(setup.config())
        .args(["--year", "2020", "--format", "csv", "--out", "-"])
        .output()
        .expect("run netkpi report");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "netkpi: --format csv writes a directory of files, one per table, and cannot go to \
             standard output (--out -)"
        ) && stderr(&o).contains("; no report written"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
    assert!(!setup.dir.path().join("-").exists());
    // A directory where the file should be: the rename fails, no temp file stays.
    let dir_out = setup.dir.path().join("taken");
    std::fs::create_dir(&dir_out).unwrap();
    std::fs::write(dir_out.join("keep"), "x").unwrap();
    let o = setup.report(&["--year", "2020", "--out", dir_out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let leftovers: Vec<_> = std::fs::read_dir(setup.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_empty_store_and_a_missing_one_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let y = year();
    std::fs::write(dir.path().join("netkpi.toml"), y.config("data", "")).unwrap();
    let out = dir.path().join("r.json");
    let run = || {
        netkpi()
            .args(["report", "--config"])
            .arg(dir.path().join("netkpi.toml"))
            .args(["--year", "2020", "--lang", "en", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let o = run();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(!out.exists());

    // A store with nothing recorded for the period: every figure would be
    // unknown. Refused like a missing store (exit 1), naming the period and
    // the store, and no file is written, in any format.
    drop(netkpi::store::Store::open(&dir.path().join("data")).unwrap());
    let o = run();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let want = format!(
        "netkpi: nothing was recorded for 2020 (2020-01-01T00:00:00.000+08:00 to \
         2021-01-01T00:00:00.000+08:00) in the store {}; no report written",
        dir.path().join("data").join("netkpi.sqlite").display()
    );
    assert!(stderr(&o).contains(&want), "{}\nwant {want}", stderr(&o));
    assert!(!out.exists());
    for format in ["csv", "md", "xlsx", "html"] {
        let path = dir.path().join(format!("r-{format}"));
        let o = netkpi()
            .args(["report", "--config"])
            .arg(dir.path().join("netkpi.toml"))
            .args(["--year", "2020", "--format", format, "--out"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{format}: {}", stderr(&o));
        assert!(!path.exists(), "{format}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "netkpi.toml" && n != "data")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn form_mistakes_are_placed_in_their_file() {
    let dir = tempfile::tempdir().unwrap();
    let y = year();
    let bad_form = FORM
        .replace(
            "source = \"lines_monitored\"",
            "source = \"lines_monitord\"",
        )
        .replace("target = 2\nweight = 10", "target = 2\nweight = 15");
    std::fs::write(dir.path().join("netkpi.toml"), y.config("data", &bad_form)).unwrap();
    std::fs::write(dir.path().join("manual.toml"), "satisfactoin = 95\n").unwrap();
    let config = dir.path().join("netkpi.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;

    let o = netkpi()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8_lossy(&o.stdout);
    let file = config.display().to_string();
    let source = format!(
        "{file}:{}:10: indicator[1].source: unknown source \"lines_monitord\" (did you mean `lines_monitored`?)",
        line_of("lines_monitord")
    );
    assert!(out.contains(&source), "{out}\nwant {source}");
    // The weights are checked once every row reads (the unknown source
    // stops that row): fix the source, keep the weight.
    assert!(!out.contains("add up"), "{out}");
    let manual = format!(
        "{}:1:1: satisfactoin: no indicator with source = \"manual\" has id \"satisfactoin\" (did you mean `satisfaction`?)",
        dir.path().join("manual.toml").display()
    );
    assert!(out.contains(&manual), "{out}\nwant {manual}");

    std::fs::write(&config, text.replace("lines_monitord", "lines_monitored")).unwrap();
    let o = netkpi()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let weights = format!(
        "{file}:{}:1: indicator: the weights add up to 105, not 100",
        line_of("[[indicator]]")
    );
    assert!(out.contains(&weights), "{out}\nwant {weights}");

    // The report refuses the config the same way.
    let o = netkpi()
        .args(["report", "--config"])
        .arg(&config)
        .args(["--year", "2020", "--out"])
        .arg(dir.path().join("r.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("add up to 105"), "{}", stderr(&o));
}

#[test]
fn the_shipped_form_adds_up_and_reads_the_year() {
    // config/report/indicators.toml and manual.toml over the synthetic year.
    let dir = tempfile::tempdir().unwrap();
    let y = year();
    y.write_store(&dir.path().join("data"));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/report");
    for f in ["indicators.toml", "manual.toml"] {
        std::fs::copy(repo.join(f), dir.path().join(f)).unwrap();
    }
    let extra = "[report]\nindicators_file = \"indicators.toml\"\nmanual_file = \"manual.toml\"\n";
    std::fs::write(dir.path().join("netkpi.toml"), y.config("data", extra)).unwrap();
    let out = dir.path().join("r.json");
    let o = netkpi()
        .args(["report", "--config"])
        .arg(dir.path().join("netkpi.toml"))
        .args(["--year", "2020", "--lang", "zh", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let rows = r["form"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 14);
    let weights: f64 = rows.iter().map(|r| r["weight"].as_f64().unwrap()).sum();
    assert_eq!(weights, 100.0);
    // Level 2 groups and their points as on the 2020 form.
    let points = |level2: &str| -> f64 {
        rows.iter()
            .filter(|r| r["level2"]["zh"] == level2)
            .map(|r| r["weight"].as_f64().unwrap())
            .sum()
    };
    for (level2, want) in [
        ("数量指标", 20.0),
        ("机房运维", 10.0),
        ("质量指标", 10.0),
        ("时效指标", 5.0),
        ("成本指标", 5.0),
        ("经济效益指标", 10.0),
        ("社会效益指标", 10.0),
        ("生态效益指标", 10.0),
        ("可持续影响指标", 10.0),
        ("服务对象满意度指标", 10.0),
    ] {
        assert_eq!(points(level2), want, "{level2}");
    }
    // No UPS recorded energy in the synthetic year: no data, said in Chinese.
    let energy = rows.iter().find(|r| r["source"] == "energy_kwh").unwrap();
    assert!(energy["actual"].is_null());
    assert_eq!(energy["score"], 0.0);
    assert!(energy["deviation"]
        .as_str()
        .unwrap()
        .contains("本期无 UPS 能耗数据"));
    let budget = rows.iter().find(|r| r["id"] == "budget_execution").unwrap();
    assert_eq!(budget["actual"], 98.5);
}

#[test]
fn a_backup_copy_gives_the_same_report() {
    let setup = Setup::new();
    let backup = setup.dir.path().join("backup.sqlite");
    let o = netkpi()
        .args(["backup", "--config"])
        .arg(setup.config())
        .arg("--out")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let live = setup.written(&["--year", "2020", "--lang", "en"], "live.json");
    let copy = setup.written(
        &[
            "--year",
            "2020",
            "--lang",
            "en",
            "--store",
            backup.to_str().unwrap(),
        ],
        "copy.json",
    );
    let read =
        |p: &Path| -> Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    let (live, copy) = (read(&live), read(&copy));
    for part in [
        "form",
        "lines",
        "devices",
        "monthly",
        "incidents",
        "maintenance",
    ] {
        assert_eq!(live[part], copy[part], "{part}");
    }
    assert_eq!(live["method"]["ledger"], copy["method"]["ledger"]);
}

/// Energy days on both sides of a month boundary and of the year's end,
/// committed as the daemon commits them: the report puts each day in its
/// month, sums kWh per month and over the year, and measures coverage
/// against each month's length for every UPS that recorded energy.
#[test]
fn energy_days_fall_in_their_months_and_coverage_counts_every_ups() {
    use netkpi::energy::{DayEnergy, Days};
    let dir = tempfile::tempdir().unwrap();
    let y = year();
    std::fs::write(dir.path().join("netkpi.toml"), y.config("data", "")).unwrap();
    let day = |text: &str| -> jiff::civil::Date { text.parse().unwrap() };
    const DAY_MS: i64 = 86_400_000;
    let row = |wh: f64, covered_ms: i64| DayEnergy {
        wh,
        covered_ms,
        apparent_ms: 0,
        day_ms: DAY_MS,
    };
    let days: Days = [
        (("ups-1", "2019-12-31"), row(9_999.0, DAY_MS)), // before the year
        (("ups-1", "2020-01-31"), row(24_000.0, DAY_MS)),
        (("ups-1", "2020-02-01"), row(12_000.0, DAY_MS / 2)),
        (("ups-2", "2020-02-01"), row(6_000.0, DAY_MS / 4)),
        (("ups-2", "2020-12-31"), row(1_500.0, DAY_MS)),
    ]
    .into_iter()
    .map(|((device, d), e)| ((device.to_string(), day(d)), e))
    .collect();
    let mut store = netkpi::store::Store::open(&dir.path().join("data")).unwrap();
    store
        .commit(&netkpi::store::Commit {
            energy: &days,
            ..netkpi::store::Commit::default()
        })
        .unwrap();
    drop(store);

    let out = dir.path().join("r.json");
    let o = netkpi()
        .args(["report", "--config"])
        .arg(dir.path().join("netkpi.toml"))
        .args(["--year", "2020", "--lang", "en", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let e = &r["energy"];
    assert_eq!(e["devices"], serde_json::json!(["ups-1", "ups-2"]), "{e}");
    let months = e["months"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    let month = |i: usize| {
        (
            months[i]["kwh"].as_f64().unwrap(),
            months[i]["coverage"].as_f64(),
        )
    };
    // January: one full day of one UPS, out of 31 days × 2 UPS.
    assert_eq!(months[0]["label"], "2020-01");
    assert_eq!(month(0), (24.0, Some(1.0 / 62.0)));
    // February (29 days in 2020): half a day and a quarter of a day.
    assert_eq!(month(1), (18.0, Some(0.75 / 58.0)));
    assert_eq!(month(5), (0.0, Some(0.0)));
    assert_eq!(month(11), (1.5, Some(1.0 / 62.0)));
    assert_eq!(e["total_kwh"], 43.5);
    let covered_days = 1.0 + 0.5 + 0.25 + 1.0;
    let coverage = e["coverage"].as_f64().unwrap();
    assert!(
        (coverage - covered_days / (2.0 * 366.0)).abs() < 1e-12,
        "{coverage}"
    );
    let row = r["form"]["rows"].as_array().unwrap();
    assert!(
        row.iter().all(|r| r["source"] != "energy_kwh"),
        "no form rows in this config"
    );

    // The same months in the XLSX's energy sheet (numbers, read back) and
    // in the HTML's energy table.
    let report = |format: &str, out: &Path| {
        let o = netkpi()
            .args(["report", "--config"])
            .arg(dir.path().join("netkpi.toml"))
            .args([
                "--year", "2020", "--lang", "en", "--format", format, "--out",
            ])
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{format}: {}", stderr(&o));
    };
    let xlsx = dir.path().join("r.xlsx");
    report("xlsx", &xlsx);
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
    use calamine::Reader;
    let sheets = book.sheet_names().to_vec();
    let sheet = sheets
        .iter()
        .find(|n| n.as_str() == "Energy")
        .unwrap_or_else(|| panic!("no Energy sheet in {sheets:?}"));
    let range = book.worksheet_range(sheet).unwrap();
    let cell = |row: usize, col: usize| range.get((row, col)).map(|c| c.to_string());
    assert_eq!(cell(0, 0).as_deref(), Some("Month"));
    assert_eq!(cell(2, 0).as_deref(), Some("2020-02"));
    let feb: f64 = cell(2, 1).unwrap().parse().unwrap();
    assert_eq!(feb, 18.0, "February's kWh in the XLSX");
    let html = dir.path().join("r.html");
    report("html", &html);
    let page = std::fs::read_to_string(&html).unwrap();
    let section = page
        .split_once(">Energy<")
        .unwrap_or_else(|| panic!("no energy section in the HTML"))
        .1;
    assert!(
        section.contains("2020-02") && section.contains("18.000"),
        "energy section"
    );
}

/// Progress is what the README says: on a terminal, one stderr line
/// rewritten in place with the two steps, cleared before `wrote PATH`; in
/// a pipe, only `wrote PATH`. `script(1)` gives the report a terminal.
#[test]
fn progress_on_a_terminal_shows_the_steps_the_readme_names() {
    let setup = Setup::new();
    let out = setup.dir.path().join("tty.json");
    for (lang, steps) in [
        ("en", ["reading the ledger", "incidents"]),
        ("zh", ["读取台账", "故障事件"]),
    ] {
        let command = format!(
            "{} report --config {} --year 2020 --lang {lang} --out {}",
            env!("CARGO_BIN_EXE_netkpi"),
            setup.config().display(),
            out.display()
        );
        let o = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .output()
            .expect("run script(1)");
        assert!(o.status.success(), "{}", stderr(&o));
        let seen = String::from_utf8_lossy(&o.stdout).into_owned();
        let want = format!(
            "\r\x1b[2Kreport: {}\r\x1b[2Kreport: {}\r\x1b[2Kwrote {}",
            steps[0],
            steps[1],
            out.display()
        );
        assert!(seen.contains(&want), "{lang}: {seen:?}\nwant {want:?}");
    }
    let o = setup.report(&["--year", "2020", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), format!("wrote {}\n", out.display()));
}
