//! HTML: one self-contained page (inline CSS, inline SVG charts, no script,
//! nothing fetched) that reads on screen and prints to a clean PDF from a
//! browser: A4, the form on the first page under the title, each other
//! section on a new page (the wide tables on landscape pages), table headers repeated on every page, no row cut across pages.
//!
//! The tables are the CSV's ([`super::table::table`]), cell for
//! cell; charts: the pooled groups' availability month by month, and the
//! distribution of times to respond and to restore over the buckets of the
//! incident histograms ([`BUCKETS`]). Every text is escaped: names,
//! reasons and notes come from the config and the API.

use std::fmt::Write;
use std::io;

use jiff::SignedDuration;

use super::table::{self, Table};
use crate::incidents::board::{Durations, BUCKETS};
use crate::report::i18n::fill;
use crate::report::{Lang, Report};

/// The tables printed on landscape pages (too wide for portrait A4).
const WIDE: [&str; 5] = [
    "lines",
    "devices",
    "monthly",
    "monthly_downtime",
    "incidents",
];

/// Series colours (colour-blind safe, distinct in grey print).
const COLOURS: [&str; 4] = ["#1f4e9c", "#d9730d", "#2a9d8f", "#7b3294"];

const STYLE: &str = r#"
:root { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", "Helvetica Neue", Arial, sans-serif; color: #111; }
body { margin: 0 auto; max-width: 290mm; padding: 8mm; font-size: 10pt; line-height: 1.35; }
h1 { font-size: 20pt; margin: 0 0 4mm; }
h2 { font-size: 14pt; margin: 6mm 0 3mm; border-bottom: 1.5pt solid #1f4e9c; padding-bottom: 1mm; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 1mm 4mm; margin: 0 0 4mm; }
dl.meta dt { font-weight: bold; }
dl.meta dd { margin: 0; word-break: break-all; }
p.notice { border: 1pt solid #d9730d; background: #fff4e5; padding: 2mm 3mm; }
p.total { font-size: 12pt; font-weight: bold; }
table { border-collapse: collapse; width: 100%; margin: 0 0 4mm; font-size: 8pt; }
th, td { border: 0.5pt solid #999; padding: 0.6mm 1.2mm; vertical-align: top; text-align: left; }
th { background: #d9e1f2; }
table[data-table="form"] th:nth-child(-n+3) { min-width: 5em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; background: #f2f2f2; }
figure { margin: 0 0 4mm; }
figcaption { font-weight: bold; margin-bottom: 1mm; }
svg { max-width: 100%; height: auto; font-family: inherit; }
svg text { font-size: 11px; fill: #111; }
svg .grid { stroke: #ccc; stroke-width: 1; }
svg .axis { stroke: #111; stroke-width: 1; }
@page { size: A4; margin: 12mm 10mm; }
@page wide { size: A4 landscape; margin: 10mm; }
@media print {
  body { max-width: none; padding: 0; }
  section { break-before: page; }
  section:first-of-type { break-before: auto; }
  section.wide { page: wide; }
  h2, figcaption { break-after: avoid; }
  thead { display: table-header-group; }
  tr, figure, p.total { break-inside: avoid; }
  th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// The report as one HTML page.
pub fn render(report: &Report, lang: Lang) -> String {
    let mut out = Vec::with_capacity(64 * 1024);
    // Writing into a Vec cannot fail.
    let _ = write(report, lang, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the page to `w` as it is rendered, one table at a time.
pub fn write(report: &Report, lang: Lang, w: &mut impl io::Write) -> io::Result<()> {
    let mut out = String::with_capacity(64 * 1024);
    let title = format!("{} {}", lang.t("title"), report.period.label);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n",
        if lang == Lang::Zh { "zh-CN" } else { "en" },
        escape(&title),
        escape(&title),
    );
    let period = format!(
        "{} – {} ({})",
        report.period.from, report.period.to, report.period.timezone
    );
    let meta = [
        (lang.t("period"), period.as_str()),
        (lang.t("generated_at"), report.generated_at.as_str()),
        (lang.t("ledger.head"), report.method.ledger.head.as_str()),
    ];
    out.push_str("<dl class=\"meta\">\n");
    for (term, value) in meta {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(term), escape(value));
    }
    out.push_str("</dl>\n");
    if let Some(notice) = &report.notice {
        let _ = writeln!(
            out,
            "<p class=\"notice\"><strong>{}:</strong> {}</p>",
            escape(lang.t("notice")),
            escape(notice)
        );
    }
    out.push_str("</header>\n");

    let mut open_section: Option<&str> = None;
    for name in table::names(report) {
        let Some(table) = table::table(report, name, lang) else {
            continue;
        };
        // The monthly downtime table goes under the monthly heading.
        if table.title != open_section.unwrap_or("") {
            if open_section.is_some() {
                out.push_str("</section>\n");
            }
            open_section = Some(table.title);
            let class = if WIDE.contains(&table.name) {
                " class=\"wide\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<section id=\"{}\"{class}>\n<h2>{}</h2>",
                table.name,
                escape(lang.t(table.title))
            );
            match table.name {
                "monthly" => out.push_str(&monthly_chart(report, lang)),
                "incidents" => out.push_str(&durations_chart(report, lang)),
                _ => {}
            }
        }
        render_table(&mut out, &table, w)?;
        if table.name == "form" {
            let _ = writeln!(
                out,
                "<p class=\"total\">{}: {:.2} / {}</p>",
                escape(lang.t("total")),
                report.form.total_score,
                super::super::form::trim_number(report.form.total_weight)
            );
        }
    }
    if open_section.is_some() {
        out.push_str("</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    w.write_all(out.as_bytes())
}

/// A table with its header in `<thead>` (repeated on each printed page);
/// numbers right-aligned; the form's total row marked. `out` is passed on
/// to `w` whenever it holds more than [`FLUSH_AT`] bytes.
fn render_table(out: &mut String, table: &Table, w: &mut impl io::Write) -> io::Result<()> {
    let _ = writeln!(out, "<table data-table=\"{}\">", table.name);
    out.push_str("<thead><tr>");
    for h in &table.header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (i, row) in table.rows.iter().enumerate() {
        let total = table.name == "form" && i + 1 == table.rows.len();
        out.push_str(if total {
            "<tr class=\"total\">"
        } else {
            "<tr>"
        });
        for cell in row.iter() {
            let numeric = !cell.is_empty() && cell.parse::<f64>().is_ok();
            let _ = write!(
                out,
                "<td{}>{}</td>",
                if numeric { " class=\"n\"" } else { "" },
                escape(cell)
            );
        }
        out.push_str("</tr>\n");
        if out.len() > FLUSH_AT {
            w.write_all(out.as_bytes())?;
            out.clear();
        }
    }
    out.push_str("</tbody>\n</table>\n");
    Ok(())
}

/// How much rendered text is held before it is written out.
const FLUSH_AT: usize = 256 * 1024;

/// `text` safe in HTML text and in a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The chart area: the SVG's size and the plot's margins.
const W: f64 = 760.0;
const H: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 64.0;

/// The pooled groups' availability month by month as a line chart, the
/// y axis from just under the lowest month to 100 %.
fn monthly_chart(report: &Report, lang: Lang) -> String {
    let labels: Vec<String> = report
        .monthly
        .months
        .iter()
        .map(|m| m.label.clone())
        .collect();
    let series: Vec<(String, Vec<Option<f64>>)> = report
        .monthly
        .rows
        .iter()
        .filter(|r| r.kind == "group" && r.total.availability.is_some())
        .map(|r| {
            (
                lang.t(&format!("group.{}", r.target)).to_string(),
                r.months.iter().map(|f| f.availability).collect(),
            )
        })
        .collect();
    let lowest = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .copied()
        .fold(f64::INFINITY, f64::min);
    if labels.is_empty() || !lowest.is_finite() {
        return String::new();
    }
    let (lo, step) = percent_axis(lowest);
    let y = |v: f64| TOP + (1.0 - (v - lo) / (1.0 - lo)) * (H - TOP - BOTTOM);
    let slot = (W - LEFT - RIGHT) / labels.len() as f64;
    let x = |i: usize| LEFT + slot * (i as f64 + 0.5);

    let mut svg = svg_open(lang.t("chart.monthly"));
    let decimals = (-(step * 100.0).log10()).ceil().clamp(0.0, 4.0) as usize;
    let mut v = lo;
    while v <= 1.0 + step / 2.0 {
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.decimals$}%</text>",
            W - RIGHT,
            LEFT - 4.0,
            y(v) + 4.0,
            v * 100.0,
            y = y(v),
        );
        v += step;
    }
    x_labels(&mut svg, &labels, x);
    for (k, (name, values)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        // A month without data breaks the line.
        let mut path = String::new();
        let mut pen_down = false;
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) => {
                    let _ = write!(
                        path,
                        "{}{:.1},{:.1} ",
                        if pen_down { "L" } else { "M" },
                        x(i),
                        y(*v)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = write!(
            svg,
            "<path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
            path.trim_end()
        );
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                let _ = write!(
                    svg,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{} {}: {:.4}%</title></circle>",
                    x(i),
                    y(*v),
                    escape(name),
                    escape(&labels[i]),
                    v * 100.0
                );
            }
        }
    }
    legend(&mut svg, series.iter().map(|(n, _)| n.as_str()));
    svg_close(svg, lang.t("chart.monthly"))
}

/// The lower end and step of a percentage axis that shows `lowest` with
/// room below it in two to six round steps (0.01 % … 20 %), ending at
/// 100 %.
fn percent_axis(lowest: f64) -> (f64, f64) {
    let below = 1.0 - lowest.clamp(0.0, 1.0);
    let step = [
        0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2,
    ]
    .into_iter()
    .find(|s| below <= 5.0 * s)
    .unwrap_or(0.2);
    let steps = (below / step).floor() + 1.0;
    ((1.0 - steps * step).max(0.0), step)
}

/// Unplanned incidents' times to respond and to restore, counted in the
/// incident histograms' buckets, as grouped bars.
fn durations_chart(report: &Report, lang: Lang) -> String {
    let mut respond = Durations::default();
    let mut restore = Durations::default();
    for i in report.incidents.iter().filter(|i| !i.planned) {
        if let Some(s) = i.response_s {
            respond.observe(SignedDuration::from_secs_f64(s));
        }
        if let Some(s) = i.restore_s {
            restore.observe(SignedDuration::from_secs_f64(s));
        }
    }
    if respond.count + restore.count == 0 {
        return String::new();
    }
    let labels = bucket_labels();
    let series = [
        (lang.t("chart.respond"), respond.counts),
        (lang.t("chart.restore"), restore.counts),
    ];
    let most = series
        .iter()
        .flat_map(|(_, c)| c.iter())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    let step = nice_step(most);
    let top = step * most.div_ceil(step);
    let y = |n: u64| TOP + (1.0 - n as f64 / top as f64) * (H - TOP - BOTTOM);
    let slot = (W - LEFT - RIGHT) / labels.len() as f64;
    let x = |i: usize| LEFT + slot * (i as f64 + 0.5);

    let mut svg = svg_open(lang.t("chart.durations"));
    let mut n = 0;
    while n <= top {
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{n}</text>",
            W - RIGHT,
            LEFT - 4.0,
            y(n) + 4.0,
            y = y(n),
        );
        n += step;
    }
    x_labels(&mut svg, &labels, x);
    let bar = slot * 0.8 / series.len() as f64;
    for (k, (name, counts)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        for (i, &count) in counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let left = x(i) - slot * 0.4 + bar * k as f64;
            let _ = write!(
                svg,
                "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{} {}: {count}</title></rect>",
                y(count),
                y(0) - y(count),
                escape(name),
                escape(&labels[i]),
            );
        }
    }
    legend(&mut svg, series.iter().map(|(n, _)| *n));
    let caption = fill(
        lang.t("chart.durations_caption"),
        &[&respond.count.to_string(), &restore.count.to_string()],
    );
    svg_close(svg, &caption)
}

/// `≤ 1m`, `≤ 5m`, …, `> 24h`: the buckets' upper bounds.
fn bucket_labels() -> Vec<String> {
    let bound = |s: f64| crate::duration::format(std::time::Duration::from_secs_f64(s));
    BUCKETS
        .iter()
        .map(|&b| format!("≤ {}", bound(b)))
        .chain([format!("> {}", bound(BUCKETS[BUCKETS.len() - 1]))])
        .collect()
}

/// A round step (1, 2, 5 × 10ⁿ) giving at most five grid lines up to `most`.
fn nice_step(most: u64) -> u64 {
    let mut unit = 1;
    loop {
        for m in [1, 2, 5] {
            if most.div_ceil(unit * m) <= 5 {
                return unit * m;
            }
        }
        unit *= 10;
    }
}

fn svg_open(title: &str) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<figure>\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{}\">\
         <line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>",
        escape(title),
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM,
    );
    svg
}

fn svg_close(mut svg: String, caption: &str) -> String {
    let _ = write!(
        svg,
        "</svg>\n<figcaption>{}</figcaption>\n</figure>\n",
        escape(caption)
    );
    svg
}

/// Category labels under the x axis, turned when they are many.
fn x_labels(svg: &mut String, labels: &[String], x: impl Fn(usize) -> f64) {
    let turned = labels.len() > 8;
    for (i, label) in labels.iter().enumerate() {
        let (px, py) = (x(i), H - BOTTOM + 14.0);
        if turned {
            let _ = write!(
                svg,
                "<text x=\"{px:.1}\" y=\"{py:.1}\" text-anchor=\"end\" transform=\"rotate(-40 {px:.1} {py:.1})\">{}</text>",
                escape(label)
            );
        } else {
            let _ = write!(
                svg,
                "<text x=\"{px:.1}\" y=\"{py:.1}\" text-anchor=\"middle\">{}</text>",
                escape(label)
            );
        }
    }
}

/// One swatch and name per series, along the bottom edge.
fn legend<'a>(svg: &mut String, names: impl Iterator<Item = &'a str>) {
    let y = H - 12.0;
    let mut x = LEFT;
    for (k, name) in names.enumerate() {
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            y - 9.0,
            COLOURS[k % COLOURS.len()],
            x + 14.0,
            escape(name)
        );
        // Wide characters take about twice the room of Latin ones.
        let width: f64 = name
            .chars()
            .map(|c| if c.is_ascii() { 6.5 } else { 12.0 })
            .sum();
        x += 14.0 + width + 18.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert('x')</script> & "y""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(escape("单位 A"), "单位 A");
    }

    #[test]
    fn percent_axis_leaves_room_below_the_lowest_month() {
        let (lo, step) = percent_axis(0.995831);
        assert_eq!(step, 0.001);
        assert!((lo - 0.995).abs() < 1e-9, "{lo}");
        let (lo, step) = percent_axis(0.9995);
        assert_eq!(step, 0.0001);
        assert!(lo <= 0.9995 + 1e-12 && lo > 0.9993, "{lo}");
        let (lo, step) = percent_axis(0.5);
        assert_eq!(step, 0.1);
        assert!((lo - 0.4).abs() < 1e-9, "{lo}");
        assert_eq!(percent_axis(0.0), (0.0, 0.2));
        let (lo, _) = percent_axis(1.0);
        assert!(lo < 1.0);
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(1), 1);
        assert_eq!(nice_step(7), 2);
        assert_eq!(nice_step(23), 5);
        assert_eq!(nice_step(480), 100);
    }

    #[test]
    fn bucket_labels_follow_the_histogram() {
        let labels = bucket_labels();
        assert_eq!(labels.len(), BUCKETS.len() + 1);
        assert_eq!(labels[0], "≤ 1m");
        assert_eq!(labels[4], "≤ 1h");
        assert_eq!(labels[9], "> 24h");
    }
}
