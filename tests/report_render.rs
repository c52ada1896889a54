//! The XLSX and HTML reports of the synthetic year (tests/common/year.rs)
//! hold the JSON report's figures: the XLSX read back with calamine, the
//! HTML's table cells parsed, each compared with the JSON's values (to the
//! rounding each format prints) and cell by cell with the CSV files, in
//! both languages. The HTML is then printed to PDF by headless Chromium (in
//! a private network namespace), its first page rendered with pdftoppm and
//! checked not blank, its text checked for the title and the form's total.
//! A line's unit is given markup and quotes, which must come out as text.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use calamine::{open_workbook, Data, Reader, Xlsx};
use common::year::year;
use common::NetNs;
use serde_json::Value;

/// A member unit's name with markup, quotes and an ampersand (as a config
/// could hold it): every format must show it as text.
const HOSTILE_UNIT: &str = r#"Tax <b>Office</b> & "Co" 'x' <script>alert(1)</script>"#;

/// How long Chromium may take to print the report.
const BROWSER_WAIT: Duration = Duration::from_secs(90);

/// The year's store with the shipped evaluation form and manual values.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        year().write_store(&dir.path().join("data"));
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/report");
        for f in ["indicators.toml", "manual.toml"] {
            std::fs::copy(repo.join(f), dir.path().join(f)).unwrap();
        }
        let extra =
            "[report]\nindicators_file = \"indicators.toml\"\nmanual_file = \"manual.toml\"\n";
        let toml_unit = HOSTILE_UNIT.replace('"', "\\\"");
        let config = year()
            .config("data", extra)
            .replace("\"Tax Office\"", &format!("\"{toml_unit}\""));
        assert!(config.contains("<script>"), "the unit was replaced");
        std::fs::write(dir.path().join("netkpi.toml"), config).unwrap();
        Setup { dir }
    }

    /// `netkpi report --year 2020` in `format` and `lang`, written to `out`.
    fn report(&self, format: &str, lang: &str, out: &str) -> PathBuf {
        let path = self.dir.path().join(out);
        let o = Command::new(env!("CARGO_BIN_EXE_netkpi"))
            .args(["report", "--config"])
            .arg(self.dir.path().join("netkpi.toml"))
            .args([
                "--year", "2020", "--format", format, "--lang", lang, "--out",
            ])
            .arg(&path)
            .output()
            .expect("run netkpi report");
        assert!(
            o.status.success(),
            "netkpi report --format {format} --lang {lang}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        path
    }

    fn json(&self, lang: &str) -> Value {
        let path = self.report("json", lang, &format!("r-{lang}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

/// A cell as read back from a format.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    Number(f64),
}

impl Cell {
    /// A cell of text as the HTML and CSV print it: a number when it reads
    /// as one.
    fn of_text(text: &str) -> Cell {
        if text.is_empty() {
            Cell::Empty
        } else if let Ok(v) = text.parse::<f64>() {
            Cell::Number(v)
        } else {
            Cell::Text(text.to_string())
        }
    }

    fn number(&self, what: &str) -> f64 {
        match self {
            Cell::Number(v) => *v,
            other => panic!("{what}: expected a number, found {other:?}"),
        }
    }

    fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.clone(),
            Cell::Number(v) => v.to_string(),
        }
    }
}

/// One table as a format shows it.
#[derive(Debug)]
struct Grid {
    name: String,
    header: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Grid {
    fn cell(&self, row: usize, col: usize) -> &Cell {
        self.rows
            .get(row)
            .and_then(|r| r.get(col))
            .unwrap_or(&Cell::Empty)
    }
}

/// How a format stores a ratio: XLSX as the ratio (formatted as a
/// percentage), HTML and CSV as the percentage's text.
#[derive(Clone, Copy)]
struct Scale(f64);

const XLSX: Scale = Scale(1.0);
const TEXT: Scale = Scale(100.0);

/// A ratio from the JSON (`null`: an empty cell), to the four decimals of a
/// percentage every format prints.
fn assert_ratio(cell: &Cell, json: &Value, scale: Scale, what: &str) {
    match json.as_f64() {
        None => assert_eq!(cell, &Cell::Empty, "{what}: JSON has null"),
        Some(r) => {
            let v = cell.number(what);
            let tolerance = 0.5e-6 * scale.0 + 1e-9;
            assert!(
                (v - r * scale.0).abs() <= tolerance,
                "{what}: {v} shown, JSON has {r}"
            );
        }
    }
}

/// Seconds from the JSON shown in minutes (two decimals).
fn assert_minutes(cell: &Cell, json: &Value, what: &str) {
    let s = json.as_f64().unwrap_or_else(|| panic!("{what}: {json}"));
    let v = cell.number(what);
    assert!(
        (v - s / 60.0).abs() <= 0.005 + 1e-9,
        "{what}: {v} min shown, JSON has {s} s"
    );
}

/// A number shown to `decimals` decimals.
fn assert_number(cell: &Cell, json: &Value, decimals: i32, what: &str) {
    match json.as_f64() {
        None => assert_eq!(cell, &Cell::Empty, "{what}: JSON has null"),
        Some(x) => {
            let v = cell.number(what);
            let tolerance = 0.5 * 10f64.powi(-decimals) + 1e-9;
            assert!(
                (v - x).abs() <= tolerance,
                "{what}: {v} shown, JSON has {x}"
            );
        }
    }
}

fn assert_text(cell: &Cell, json: &Value, what: &str) {
    assert_eq!(cell.text(), json.as_str().unwrap_or(""), "{what}");
}

/// Every table of a format against the JSON report: each figure where the
/// format's table puts it.
fn assert_tables_hold_the_json(grids: &[Grid], r: &Value, scale: Scale, format: &str) {
    let names: Vec<&str> = grids.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "form",
            "lines",
            "devices",
            "monthly",
            "monthly_downtime",
            "incidents",
            "maintenance",
            "method"
        ],
        "{format}: the tables"
    );
    let grid = |name: &str| grids.iter().find(|g| g.name == name).unwrap();

    // The form: each row's actual value in its unit, weight and score, and
    // the total.
    let form = grid("form");
    let rows = r["form"]["rows"].as_array().unwrap();
    assert_eq!(
        form.rows.len(),
        rows.len() + 1,
        "{format}: form rows + total"
    );
    for (i, row) in rows.iter().enumerate() {
        let what = format!("{format} form {}", row["id"]);
        match row["unit"].as_str().unwrap() {
            "ratio" => {
                assert_ratio(form.cell(i, 4), &row["target"], scale, &what);
                assert_ratio(form.cell(i, 5), &row["actual"], scale, &what);
            }
            "seconds" => {
                assert_minutes(form.cell(i, 4), &row["target"], &what);
                if row["actual"].is_null() {
                    assert_eq!(form.cell(i, 5), &Cell::Empty, "{what}");
                } else {
                    assert_minutes(form.cell(i, 5), &row["actual"], &what);
                }
            }
            _ => {
                assert_number(form.cell(i, 4), &row["target"], 1, &what);
                assert_number(form.cell(i, 5), &row["actual"], 1, &what);
            }
        }
        assert_number(form.cell(i, 7), &row["weight"], 6, &what);
        assert_number(form.cell(i, 8), &row["score"], 2, &what);
    }
    let total = rows.len();
    assert_number(
        form.cell(total, 7),
        &r["form"]["total_weight"],
        6,
        "form total weight",
    );
    assert_number(
        form.cell(total, 8),
        &r["form"]["total_score"],
        2,
        "form total score",
    );

    // Lines and devices: every figure.
    for (table, list, first_figure) in [("lines", "lines", 5), ("devices", "devices", 4)] {
        let g = grid(table);
        let items = r[list].as_array().unwrap();
        assert_eq!(g.rows.len(), items.len(), "{format} {table}: rows");
        for (i, item) in items.iter().enumerate() {
            let what = |col: &str| format!("{format} {table} row {i} {col}");
            let key = if table == "lines" { "id" } else { "name" };
            assert_text(g.cell(i, 0), &item[key], &what(key));
            if table == "lines" {
                assert_text(g.cell(i, 1), &item["unit"], &what("unit"));
            }
            let c = first_figure;
            assert_ratio(
                g.cell(i, c),
                &item["availability_target"],
                scale,
                &what("target"),
            );
            assert_ratio(
                g.cell(i, c + 1),
                &item["availability"],
                scale,
                &what("availability"),
            );
            assert_ratio(
                g.cell(i, c + 2),
                &item["coverage"],
                scale,
                &what("coverage"),
            );
            for (k, field) in ["up_s", "degraded_s", "down_s", "unknown_s", "maintenance_s"]
                .iter()
                .enumerate()
            {
                assert_minutes(g.cell(i, c + 3 + k), &item[field], &what(field));
            }
            assert_number(g.cell(i, c + 8), &item["outages"], 0, &what("outages"));
            assert_minutes(
                g.cell(i, c + 9),
                &item["longest_outage_s"],
                &what("longest"),
            );
        }
    }

    // Months: availability and downtime of every target and group, month
    // by month and over the period.
    let months = r["monthly"]["months"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    for table in ["monthly", "monthly_downtime"] {
        let g = grid(table);
        for (j, m) in months.iter().enumerate() {
            assert_eq!(
                g.header[2 + j],
                m["label"].as_str().unwrap(),
                "{format} {table}"
            );
        }
        let rows = r["monthly"]["rows"].as_array().unwrap();
        assert_eq!(g.rows.len(), rows.len(), "{format} {table}: rows");
        for (i, row) in rows.iter().enumerate() {
            let figures = row["months"]
                .as_array()
                .unwrap()
                .iter()
                .chain([&row["total"]]);
            for (j, f) in figures.enumerate() {
                let what = format!("{format} {table} {} column {j}", row["target"]);
                if table == "monthly" {
                    assert_ratio(g.cell(i, 2 + j), &f["availability"], scale, &what);
                } else {
                    assert_minutes(g.cell(i, 2 + j), &f["down_s"], &what);
                }
            }
        }
    }

    // Incidents: ids, times and durations.
    let g = grid("incidents");
    let incidents = r["incidents"].as_array().unwrap();
    assert!(!incidents.is_empty());
    assert_eq!(g.rows.len(), incidents.len(), "{format} incidents");
    for (i, inc) in incidents.iter().enumerate() {
        let what = |col: &str| format!("{format} incident {} {col}", inc["id"]);
        assert_number(g.cell(i, 0), &inc["id"], 0, &what("id"));
        assert_text(g.cell(i, 1), &inc["target"], &what("target"));
        assert_text(g.cell(i, 4), &inc["opened_at"], &what("opened_at"));
        assert_text(g.cell(i, 7), &inc["restored_at"], &what("restored_at"));
        assert_number(g.cell(i, 8), &inc["response_s"], 3, &what("response_s"));
        assert_number(g.cell(i, 9), &inc["restore_s"], 3, &what("restore_s"));
    }

    // Maintenance: the audit trail as text.
    let g = grid("maintenance");
    let windows = r["maintenance"].as_array().unwrap();
    assert_eq!(g.rows.len(), windows.len(), "{format} maintenance");
    for (i, w) in windows.iter().enumerate() {
        assert_text(g.cell(i, 3), &w["start"], "window start");
        assert_text(g.cell(i, 4), &w["end"], "window end");
        assert_text(g.cell(i, 5), &w["reason"], "window reason");
        assert_text(g.cell(i, 6), &w["declared_by"], "declared by");
    }

    // Method: the ledger's chain head.
    let head = r["method"]["ledger"]["head"].as_str().unwrap();
    assert!(
        grid("method")
            .rows
            .iter()
            .any(|row| row.iter().any(|c| c.text() == head)),
        "{format}: the chain head {head}"
    );
}

/// Every cell of a format equals the CSV file's: text as text, numbers as
/// the CSV's number (a ratio in XLSX as the CSV's percentage ÷ 100).
fn assert_cells_match_csv(grids: &[Grid], csv_dir: &Path, format: &str) {
    for g in grids {
        let csv = read_csv(&csv_dir.join(format!("{}.csv", g.name)));
        assert_eq!(g.header, csv[0], "{format} {}: header", g.name);
        assert_eq!(g.rows.len(), csv.len() - 1, "{format} {}: rows", g.name);
        for (i, (row, want)) in g.rows.iter().zip(&csv[1..]).enumerate() {
            // Each run has its own generation time.
            if g.name == "method" && ["Generated", "生成时间"].contains(&want[0].as_str()) {
                continue;
            }
            for (j, text) in want.iter().enumerate() {
                let got = row.get(j).unwrap_or(&Cell::Empty);
                let what = format!("{format} {} row {i} column {j}", g.name);
                match (got, Cell::of_text(text)) {
                    (Cell::Number(v), Cell::Number(c)) => assert!(
                        (v - c).abs() <= 1e-9 * c.abs().max(1.0) || (v - c / 100.0).abs() <= 1e-9,
                        "{what}: {v} against the CSV's {text}"
                    ),
                    (got, _) => assert_eq!(got.text(), *text, "{what}"),
                }
            }
        }
    }
}

/// An RFC 4180 file after its byte order mark: rows of fields.
fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let text = text.strip_prefix('\u{feff}').expect("a byte order mark");
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
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
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

/// The XLSX's sheets as grids, named by the English table name of their
/// position; also returns the sheet names.
fn read_xlsx(path: &Path) -> (Vec<String>, Vec<Grid>) {
    let mut book: Xlsx<_> = open_workbook(path).expect("calamine opens the XLSX");
    let sheets = book.sheet_names().to_vec();
    let names = [
        "form",
        "lines",
        "devices",
        "monthly",
        "monthly_downtime",
        "incidents",
        "maintenance",
        "method",
    ];
    let grids = sheets
        .iter()
        .zip(names)
        .map(|(sheet, name)| {
            let range = book
                .worksheet_range(sheet)
                .unwrap_or_else(|e| panic!("{sheet}: {e}"));
            // calamine starts the range at the first non-empty cell; the
            // header row is at A1 and never empty.
            assert_eq!(range.start(), Some((0, 0)), "{sheet}");
            let mut rows = range.rows().map(|r| {
                r.iter()
                    .map(|c| match c {
                        Data::Empty => Cell::Empty,
                        Data::String(s) => Cell::Text(s.clone()),
                        Data::Float(v) => Cell::Number(*v),
                        Data::Int(v) => Cell::Number(*v as f64),
                        other => panic!("{sheet}: unexpected cell {other:?}"),
                    })
                    .collect::<Vec<_>>()
            });
            let header = rows
                .next()
                .expect("a header row")
                .iter()
                .map(Cell::text)
                .collect();
            Grid {
                name: name.to_string(),
                header,
                rows: rows.collect(),
            }
        })
        .collect();
    (sheets, grids)
}

/// The HTML's `<table data-table="NAME">`s as grids (cells unescaped).
fn read_html_tables(html: &str) -> Vec<Grid> {
    let mut grids = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("<table data-table=\"") {
        rest = &rest[at + 19..];
        let name = rest[..rest.find('"').unwrap()].to_string();
        let end = rest.find("</table>").expect("a closed table");
        let body = &rest[..end];
        let cells = |row: &str, tag: &str| -> Vec<String> {
            let mut out = Vec::new();
            let mut r = row;
            while let Some(open) = r.find(&format!("<{tag}")) {
                let start = open + r[open..].find('>').unwrap() + 1;
                let close = start + r[start..].find(&format!("</{tag}>")).unwrap();
                out.push(unescape(&r[start..close]));
                r = &r[close..];
            }
            out
        };
        let rows: Vec<&str> = body.split("<tr").skip(1).collect();
        grids.push(Grid {
            name,
            header: cells(rows[0], "th"),
            rows: rows[1..]
                .iter()
                .map(|r| cells(r, "td").iter().map(|t| Cell::of_text(t)).collect())
                .collect(),
        });
        rest = &rest[end..];
    }
    grids
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn xlsx_holds_the_json_figures_in_both_languages() {
    let setup = Setup::new();
    for lang in ["en", "zh"] {
        let r = setup.json(lang);
        let path = setup.report("xlsx", lang, &format!("r-{lang}.xlsx"));
        let (sheets, grids) = read_xlsx(&path);
        let want_sheets: &[&str] = if lang == "en" {
            &[
                "Evaluation form",
                "Leased lines",
                "Devices",
                "Availability by month",
                "Downtime by month",
                "Incidents",
                "Maintenance",
                "Method",
            ]
        } else {
            &[
                "绩效自评表",
                "专线可用性",
                "设备可用性",
                "月度可用率",
                "月度中断时长",
                "故障事件",
                "维护窗口",
                "计算方法",
            ]
        };
        assert_eq!(sheets, want_sheets, "{lang}: sheet names");
        let (level1, availability) = if lang == "en" {
            ("Level 1", "Availability")
        } else {
            ("一级指标", "可用率")
        };
        assert_eq!(grids[0].header[0], level1, "{lang}: form header");
        assert!(grids[1].header.iter().any(|h| h == availability), "{lang}");
        assert_tables_hold_the_json(&grids, &r, XLSX, &format!("xlsx {lang}"));
        let csv = setup.report("csv", lang, &format!("csv-{lang}"));
        assert_cells_match_csv(&grids, &csv, &format!("xlsx {lang}"));
        // The hostile unit name is text, as given.
        assert!(grids[1]
            .rows
            .iter()
            .any(|row| row[1] == Cell::Text(HOSTILE_UNIT.to_string())));
    }
}

#[test]
fn html_holds_the_json_figures_and_prints_to_a_clean_pdf() {
    let setup = Setup::new();
    let ns = NetNs::new();
    for lang in ["en", "zh"] {
        let r = setup.json(lang);
        let path = setup.report("html", lang, &format!("r-{lang}.html"));
        let html = std::fs::read_to_string(&path).unwrap();

        // Self-contained and escaped.
        for outside in ["<script", "<link", "src=\"http", "href=\"http", "@import"] {
            assert!(!html.contains(outside), "{lang}: {outside} in the page");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert_eq!(html.matches("<svg").count(), 2, "{lang}: two charts");
        let grids = read_html_tables(&html);
        assert_tables_hold_the_json(&grids, &r, TEXT, &format!("html {lang}"));
        let csv = setup.report("csv", lang, &format!("csv-{lang}"));
        assert_cells_match_csv(&grids, &csv, &format!("html {lang}"));
        assert!(grids[1]
            .rows
            .iter()
            .any(|row| row[1] == Cell::Text(HOSTILE_UNIT.to_string())));

        // Printed by Chromium.
        let pdf = setup.dir.path().join(format!("r-{lang}.pdf"));
        print_to_pdf(&ns, setup.dir.path(), &path, &pdf);
        let pages = pdf_pages(&pdf);
        // A cover with the form, then a page or more per section.
        assert!((7..=30).contains(&pages), "{lang}: {pages} pages");
        let text = run(
            "pdftotext",
            &["-layout".as_ref(), pdf.as_ref(), "-".as_ref()],
        );
        let title = if lang == "en" {
            "Network operations report 2020"
        } else {
            "网络运维报告 2020"
        };
        let first = run(
            "pdftotext",
            &[
                "-f".as_ref(),
                "1".as_ref(),
                "-l".as_ref(),
                "1".as_ref(),
                pdf.as_ref(),
                "-".as_ref(),
            ],
        );
        assert!(
            first.contains(title),
            "{lang}: page 1 lacks {title:?}:\n{first}"
        );
        let total = format!(
            "{:.2} / {}",
            r["form"]["total_score"].as_f64().unwrap(),
            r["form"]["total_weight"].as_f64().unwrap()
        );
        assert!(
            text.contains(&total),
            "{lang}: the PDF lacks the total {total}"
        );
        assert!(text.contains("<b>Office</b>"), "{lang}: the unit as text");
        let ink = first_page_ink(&pdf);
        assert!(
            ink > 0.01,
            "{lang}: page 1 is blank ({ink} of its pixels inked)"
        );
    }
}

/// Headless Chromium prints `html` to `pdf` inside the namespace (no
/// network), bounded by [`BROWSER_WAIT`].
fn print_to_pdf(ns: &NetNs, dir: &Path, html: &Path, pdf: &Path) {
    let profile = dir.join("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let log = pdf.with_extension("log");
    let mut child = ns
        .command("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("cannot run chromium (Debian package chromium; tests/run.sh installs it)");
    let deadline = Instant::now() + BROWSER_WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not print within {} s:\n{}",
                BROWSER_WAIT.as_secs(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success() && pdf.exists(),
        "chromium failed ({status}):\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

/// A poppler tool's standard output (poppler-utils; tests/run.sh installs it).
fn run(program: &str, args: &[&std::ffi::OsStr]) -> String {
    let o = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (poppler-utils): {e}"));
    assert!(
        o.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn pdf_pages(pdf: &Path) -> usize {
    let info = run("pdfinfo", &[pdf.as_os_str()]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("pdfinfo without a page count:\n{info}"))
}

/// The share of the first page's pixels that are not white, rendered at
/// 50 dpi by pdftoppm and decoded with the png crate.
fn first_page_ink(pdf: &Path) -> f64 {
    let stem = pdf.with_file_name(format!(
        "{}-page1",
        pdf.file_stem().unwrap().to_string_lossy()
    ));
    run(
        "pdftoppm",
        &[
            "-png".as_ref(),
            "-r".as_ref(),
            "50".as_ref(),
            "-f".as_ref(),
            "1".as_ref(),
            "-l".as_ref(),
            "1".as_ref(),
            "-singlefile".as_ref(),
            pdf.as_os_str(),
            stem.as_os_str(),
        ],
    );
    let file = std::fs::File::open(stem.with_extension("png")).expect("pdftoppm wrote a PNG");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a PNG of sane size")];
    let info = reader.next_frame(&mut buf).expect("the PNG's frame");
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let total = pixels.len() / channels;
    let inked = pixels
        .chunks(channels)
        .filter(|p| p.iter().take(3).any(|&v| v < 200))
        .count();
    inked as f64 / total as f64
}
