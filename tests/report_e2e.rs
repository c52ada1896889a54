//! The report end to end: the real daemon in a private network namespace,
//! a short real ICMP outage made with nftables and acknowledged through the
//! API, then `netkpi report` for the current year (JSON, CSV, Markdown,
//! HTML and XLSX, read from the store while the daemon runs) and
//! `GET /api/v1/report` show that outage and its incident, with the figures
//! the ledger's own rows give.

mod common;

use std::path::Path;
use std::time::Duration;

use calamine::{open_workbook, Data, Reader, Xlsx};
use common::ledger::{ledger_rows, seconds_between};
use common::openapi::OpenApi;
use common::{lab_config, listen, netkpi_bin, Daemon, NetNs};
use jiff::Timestamp;
use serde_json::Value;

const ACC1: &str = "127.0.20.1";

/// A form of two rows: availability and acknowledgement in time.
const FORM: &str = r#"
[[indicator]]
id = "availability"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "质量指标", en = "Quality" }
name = { zh = "网络可用率", en = "Availability" }
source = "availability"
target = 0.999
weight = 60

[[indicator]]
id = "acknowledged"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "时效指标", en = "Timeliness" }
name = { zh = "及时响应率", en = "Acknowledged in time" }
source = "acknowledged_within_share"
target = 1
weight = 40
score = "threshold"
"#;

/// The current calendar year in the lab's zone.
fn this_year() -> String {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    Timestamp::now().to_zoned_datetime(tz).year().to_string()
}

fn report(config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(netkpi_bin())
        .args(["report", "--config"])
        .arg(config)
        .args(args)
        .output()
        .expect("run netkpi report")
}

/// The CSV file's rows (our files quote nothing in these tables' cells
/// but the deviation text, which this test does not read).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').expect("a byte order mark");
    text.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// The Markdown's tables, each as its rows (the header first, the `---`
/// row left out), cells trimmed and unescaped.
fn md_tables(text: &str) -> Vec<Vec<Vec<String>>> {
    let mut tables: Vec<Vec<Vec<String>>> = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        let Some(inner) = line.strip_prefix('|').and_then(|l| l.strip_suffix('|')) else {
            in_table = false;
            continue;
        };
        let cells: Vec<String> = inner
            .replace("\\|", "\u{0}")
            .split('|')
            .map(|c| c.trim().replace('\u{0}', "|"))
            .collect();
        if cells.iter().all(|c| c == "---") {
            continue;
        }
        if !in_table {
            tables.push(Vec::new());
            in_table = true;
        }
        tables.last_mut().unwrap().push(cells);
    }
    tables
}

/// The HTML's tables, each as its rows (the header first), the text of
/// each `th`/`td` unescaped.
fn html_tables(text: &str) -> Vec<Vec<Vec<String>>> {
    let unescape = |t: &str| {
        t.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    };
    text.split("<table")
        .skip(1)
        .map(|t| {
            let t = &t[..t.find("</table>").expect("a closed table")];
            t.split("<tr")
                .skip(1)
                .map(|r| {
                    let r = &r[..r.find("</tr>").expect("a closed row")];
                    r.split("<t")
                        .skip(1)
                        .filter_map(|c| {
                            let c = c.strip_prefix('h').or_else(|| c.strip_prefix('d'))?;
                            let start = c.find('>')? + 1;
                            let end = c.find("</t")?;
                            Some(unescape(&c[start..end]))
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// The outage's line and its incident as the CSV files print them.
struct Shown<'a> {
    lines_header: &'a [String],
    line: &'a [String],
    incidents_header: &'a [String],
    incident: &'a [String],
}

/// The lines table's columns the outage decides (the others, up time and
/// availability, grow while the daemon runs between two reports).
const LINE_COLUMNS: [&str; 6] = [
    "Line",
    "Unit",
    "Carrier",
    "Downtime (min)",
    "Outages",
    "Longest outage (min)",
];

impl Shown<'_> {
    fn col(header: &[String], name: &str) -> usize {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    }

    /// The incident's columns but the last (the cause, free text the
    /// CSV reader here does not unquote).
    fn incident_columns(&self) -> usize {
        self.incidents_header.len() - 1
    }

    /// Markdown or HTML: the tables with the CSV's headers hold the line's
    /// and the incident's cells as the CSV has them.
    fn in_text_tables(&self, format: &str, tables: &[Vec<Vec<String>>]) {
        let find = |header: &[String]| {
            tables
                .iter()
                .find(|t| t.first().is_some_and(|h| h.as_slice() == header))
                .unwrap_or_else(|| panic!("{format}: no table headed {header:?}"))
        };
        let lines = find(self.lines_header);
        let line = lines[1..]
            .iter()
            .find(|r| r[0] == "L-001")
            .unwrap_or_else(|| panic!("{format}: no row of L-001"));
        for name in LINE_COLUMNS {
            let c = Self::col(self.lines_header, name);
            assert_eq!(line[c], self.line[c], "{format}: L-001's {name}");
        }
        let incidents = find(self.incidents_header);
        let incident = incidents[1..]
            .iter()
            .find(|r| r[0] == self.incident[0])
            .unwrap_or_else(|| panic!("{format}: no incident {}", self.incident[0]));
        let n = self.incident_columns();
        assert_eq!(
            incident[..n],
            self.incident[..n],
            "{format}: incident {}",
            self.incident[0]
        );
    }

    /// XLSX read back with calamine: the sheets headed as the CSV files
    /// hold the same cells, numbers as numbers.
    fn in_xlsx(&self, path: &Path) {
        let mut book: Xlsx<_> = open_workbook(path).expect("calamine opens the XLSX");
        let sheets: Vec<Vec<Vec<Data>>> = book
            .sheet_names()
            .to_vec()
            .iter()
            .map(|name| {
                let range = book.worksheet_range(name).unwrap();
                range.rows().map(<[Data]>::to_vec).collect()
            })
            .collect();
        let text = |d: &Data| match d {
            Data::String(s) => s.clone(),
            Data::Empty => String::new(),
            Data::Float(v) => v.to_string(),
            Data::Int(v) => v.to_string(),
            other => panic!("unexpected cell {other:?}"),
        };
        let find = |header: &[String]| {
            sheets
                .iter()
                .find(|s| {
                    s.first()
                        .is_some_and(|h| h.iter().map(text).collect::<Vec<_>>() == header)
                })
                .unwrap_or_else(|| panic!("xlsx: no sheet headed {header:?}"))
        };
        // A cell equal to the CSV's text: the same text, or the number the
        // CSV prints rounded (minutes to 2 decimals, seconds to 3).
        let same = |cell: &Data, csv: &str, what: &str| match cell {
            Data::Float(_) | Data::Int(_) => {
                let v = match cell {
                    Data::Float(v) => *v,
                    Data::Int(v) => *v as f64,
                    _ => unreachable!(),
                };
                let want: f64 = csv
                    .parse()
                    .unwrap_or_else(|_| panic!("xlsx: {what}: {v} where the CSV has {csv:?}"));
                assert!((v - want).abs() < 0.0051, "xlsx: {what}: {v} vs {csv}");
            }
            _ => assert_eq!(text(cell), csv, "xlsx: {what}"),
        };
        let lines = find(self.lines_header);
        let line = lines[1..]
            .iter()
            .find(|r| text(&r[0]) == "L-001")
            .expect("xlsx: a row of L-001");
        for name in LINE_COLUMNS {
            let c = Self::col(self.lines_header, name);
            same(&line[c], &self.line[c], &format!("L-001's {name}"));
        }
        let incidents = find(self.incidents_header);
        let incident = incidents[1..]
            .iter()
            .find(|r| text(&r[0]) == self.incident[0])
            .unwrap_or_else(|| panic!("xlsx: no incident {}", self.incident[0]));
        for c in 0..self.incident_columns() {
            same(
                incident.get(c).unwrap_or(&Data::Empty),
                &self.incident[c],
                &format!("incident's {}", self.incidents_header[c]),
            );
        }
    }
}

#[test]
fn a_real_outage_in_the_report_and_the_api() {
    let ns = NetNs::new();
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("netkpi.toml");
    std::fs::write(&config, format!("{}\n{FORM}", lab_config("data"))).unwrap();
    let data = tmp.path().join("data");
    let daemon = Daemon::start_all_up(&ns, &config, &tmp.path().join("netkpi.log"));

    // acc-001 goes silent; its incident opens; the duty engineer
    // acknowledges it; it answers again and the incident is restored.
    ns.take_down(ACC1);
    let incident = daemon.wait_until("acc-001's incident", Duration::from_secs(15), || {
        let open = daemon.get_json("/api/v1/incidents?state=open");
        open["incidents"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["target"] == "acc-001").cloned())
            .ok_or(open)
    });
    let id = incident["id"].as_u64().unwrap();
    let body = r#"{"by": "duty-li"}"#;
    let ack = format!(
        "POST /api/v1/incidents/{id}/ack HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = ns.http_raw(listen(), ack.as_bytes()).unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    std::thread::sleep(Duration::from_secs(2));
    ns.bring_up(ACC1);
    daemon.wait_for(
        &format!("/api/v1/incidents/{id}"),
        "acc-001 restored",
        Duration::from_secs(15),
        |i| !i["restored_at"].is_null(),
    );

    // What the ledger says: one down span of acc-001, and of L-001 behind it.
    let span = |target: &str| {
        let rows = ledger_rows(&data, target);
        let down = rows
            .iter()
            .position(|r| r.state == "down")
            .expect("a down row");
        let up = rows[down..]
            .iter()
            .find(|r| r.state == "up")
            .expect("back up");
        seconds_between(rows[down].at, up.at)
    };
    let (acc_down, line_down) = (span("acc-001"), span("L-001"));
    assert!(acc_down > 1.0, "a real outage: {acc_down} s");

    // The report of this year, read while the daemon runs.
    let year = this_year();
    let json_out = tmp.path().join("report.json");
    let o = report(
        &config,
        &[
            "--year",
            &year,
            "--lang",
            "en",
            "--out",
            json_out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    let device = r["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "acc-001")
        .unwrap();
    assert!(
        (device["down_s"].as_f64().unwrap() - acc_down).abs() < 0.002,
        "{device}"
    );
    assert_eq!(device["outages"], 1);
    let line = r["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "L-001")
        .unwrap();
    assert!(
        (line["down_s"].as_f64().unwrap() - line_down).abs() < 0.002,
        "{line}"
    );
    assert_eq!(line["outages"], 1);
    let inc = r["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("incident {id} in {}", r["incidents"]));
    assert_eq!(inc["target"], "acc-001");
    assert_eq!(inc["acknowledged_by"], "duty-li");
    assert!(!inc["restored_at"].is_null());
    let rows = r["form"]["rows"].as_array().unwrap();
    assert_eq!(
        rows[1]["actual"], 1.0,
        "acknowledged within 30 min: {}",
        rows[1]
    );
    assert!(rows[0]["actual"].as_f64().unwrap() < 1.0, "{}", rows[0]);
    assert_eq!(r["method"]["ledger"]["head"].as_str().unwrap().len(), 64);

    // CSV: the same outage and incident.
    let csv_out = tmp.path().join("csv");
    let o = report(
        &config,
        &[
            "--year",
            &year,
            "--format",
            "csv",
            "--lang",
            "en",
            "--out",
            csv_out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let devices = csv_rows(&std::fs::read_to_string(csv_out.join("devices.csv")).unwrap());
    let down_col = devices[0]
        .iter()
        .position(|h| h == "Downtime (min)")
        .unwrap();
    let acc = devices.iter().find(|r| r[0] == "acc-001").unwrap();
    assert_eq!(
        acc[down_col],
        format!("{:.2}", device["down_s"].as_f64().unwrap() / 60.0)
    );
    let incidents = csv_rows(&std::fs::read_to_string(csv_out.join("incidents.csv")).unwrap());
    let row = incidents.iter().find(|r| r[0] == id.to_string()).unwrap();
    assert_eq!((row[1].as_str(), row[6].as_str()), ("acc-001", "duty-li"));
    let lines = csv_rows(&std::fs::read_to_string(csv_out.join("lines.csv")).unwrap());
    let line_row = lines.iter().find(|r| r[0] == "L-001").unwrap();
    let line_down_col = lines[0].iter().position(|h| h == "Downtime (min)").unwrap();
    assert_eq!(
        line_row[line_down_col],
        format!("{:.2}", line["down_s"].as_f64().unwrap() / 60.0)
    );

    // Markdown, HTML and XLSX: the same line's outage and the same
    // incident, cell for cell as the CSV prints them (XLSX as numbers).
    let shown = Shown {
        lines_header: &lines[0],
        line: line_row,
        incidents_header: &incidents[0],
        incident: row,
    };
    for format in ["md", "html", "xlsx"] {
        let out = tmp.path().join(format!("report.{format}"));
        let o = report(
            &config,
            &[
                "--year",
                &year,
                "--format",
                format,
                "--lang",
                "en",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        match format {
            "md" => {
                shown.in_text_tables(format, &md_tables(&std::fs::read_to_string(&out).unwrap()))
            }
            "html" => shown.in_text_tables(
                format,
                &html_tables(&std::fs::read_to_string(&out).unwrap()),
            ),
            _ => shown.in_xlsx(&out),
        }
    }

    // The API answers the same report (another instant: the same ledger),
    // as the OpenAPI document describes it, form rows included.
    let api = daemon.get_json(&format!("/api/v1/report?year={year}"));
    let doc = OpenApi::new(include_str!("../src/http/openapi.json"));
    let problems = doc.check(doc.response_schema("/api/v1/report", "get", 200), &api);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(api["incidents"], r["incidents"]);
    assert_eq!(api["lines"][0]["down_s"], r["lines"][0]["down_s"]);
    assert_eq!(
        api["method"]["ledger"]["head"],
        r["method"]["ledger"]["head"]
    );
    // A + offset sent unencoded arrives as a space and is read back.
    let api = daemon.get_json(&format!(
        "/api/v1/report?from={year}-01-01T00:00:00+08:00&lang=zh"
    ));
    assert_eq!(
        api["period"]["from"],
        format!("{year}-01-01T00:00:00.000+08:00")
    );
    assert_eq!(api["lang"], "zh");
    // CSV by format= or by Accept, one table.
    let csv = daemon.request(
        &format!("/api/v1/report?year={year}&format=csv&table=incidents"),
        &[],
    );
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv_rows(&csv.body)
        .iter()
        .any(|r| r[0] == id.to_string() && r[1] == "acc-001"));
    let csv = daemon.request(
        &format!("/api/v1/report?year={year}"),
        &[("Accept", "text/csv")],
    );
    assert_eq!(csv.status, 200);
    assert_eq!(csv_rows(&csv.body)[0][0], "Level 1", "the form by default");
    // Refused with a reason.
    for (query, why) in [
        ("year=2999", "future"),
        ("year=20x0", "not a year"),
        ("from=2026-02-01&to=2026-01-01", "must be after"),
        ("format=xlsx", "expected json or csv"),
        ("table=nope", "expected one of"),
        ("lang=fr", "expected zh or en"),
        ("window=1d", "unknown parameter"),
    ] {
        let (status, body) = daemon.get(&format!("/api/v1/report?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(why), "{query}: {body}");
    }
    // The availability endpoint takes the same periods.
    let avail = daemon.get_json(&format!("/api/v1/availability?year={year}"));
    assert_eq!(avail["from"], format!("{year}-01-01T00:00:00.000+08:00"));

    let status = daemon.stop();
    assert!(status.success(), "netkpi exited with {status}");
}
