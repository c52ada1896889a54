//! The status page in a real browser: the lab daemon in a private network
//! namespace, an outage made with nftables, the page loaded by headless
//! Chromium inside the namespace (its DOM dumped and checked, a screenshot
//! taken), and an incident acknowledged through the page's form endpoint.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{lab_config, listen, state_of, Daemon, NetNs, DEVICES};
use serde_json::Value;

const ACC2: &str = "127.0.20.2";
const PAGE: &str = "http://127.0.0.1:9731/";
/// The longest one Chromium run may take.
const BROWSER_WAIT: Duration = Duration::from_secs(90);

/// Headless Chromium inside the namespace, with its profile and HOME in
/// `dir`; its stdout goes to `out`. Bounded by [`BROWSER_WAIT`]; fails the
/// test with Chromium's stderr when it fails or hangs.
fn chromium(ns: &NetNs, dir: &Path, args: &[&str], out: &Path) {
    let profile = dir.join("chromium-profile");
    std::fs::create_dir_all(&profile).expect("create the browser profile dir");
    let stderr_path = out.with_extension("stderr");
    let mut child = ns
        .command("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out).expect("create the browser's output file"))
        .stderr(std::fs::File::create(&stderr_path).expect("create the browser's log file"))
        .spawn()
        .expect("cannot run chromium (Debian package chromium; tests/run.sh installs it)");
    let deadline = Instant::now() + BROWSER_WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium {args:?} did not finish within {} s; its log:\n{}",
                BROWSER_WAIT.as_secs(),
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "chromium {args:?} failed ({status}); its log:\n{}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
}

/// The page's DOM after Chromium has loaded it.
fn dump_dom(ns: &NetNs, dir: &Path, name: &str) -> String {
    let out = dir.join(name);
    chromium(ns, dir, &["--dump-dom", PAGE], &out);
    std::fs::read_to_string(&out).expect("read the dumped DOM")
}

/// A PNG screenshot of `url` at 1280×1024; returns its path and size.
fn screenshot(ns: &NetNs, dir: &Path, url: &str, name: &str) -> (PathBuf, u64) {
    let png = dir.join(name);
    chromium(
        ns,
        dir,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,1024",
            "--hide-scrollbars",
            url,
        ],
        &dir.join(format!("{name}.out")),
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot {name}: {e}"));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{name} is not a PNG"
    );
    (png, bytes.len() as u64)
}

/// The whole `<tr ...>...</tr>` whose text contains `needle`, within `html`.
fn row_with<'h>(html: &'h str, needle: &str) -> Option<&'h str> {
    let at = html.find(needle)?;
    let start = html[..at].rfind("<tr")?;
    let end = at + html[at..].find("</tr>")? + "</tr>".len();
    Some(&html[start..end])
}

/// A section of the page by its id, up to its end.
fn section<'h>(html: &'h str, id: &str) -> Option<&'h str> {
    let start = html.find(&format!("<section id=\"{id}\""))?;
    let end = start + html[start..].find("</section>")?;
    Some(&html[start..end])
}

/// A form post as a browser sends it; status, headers and body.
fn post_form(ns: &NetNs, path: &str, extra_headers: &[&str], body: &str) -> common::HttpResponse {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:9731\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in extra_headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    ns.http_raw(listen(), request.as_bytes())
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

fn open_incidents(daemon: &Daemon) -> Vec<Value> {
    daemon.get_json("/api/v1/incidents?state=open")["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Fails the test with what the browser saw and the daemon's log.
fn check(ok: bool, what: &str, dom: &str, daemon: &Daemon) {
    assert!(
        ok,
        "{what}\n--- DOM:\n{dom}\n--- daemon log:\n{}",
        daemon.log_text()
    );
}

#[test]
fn the_status_page_shows_an_outage_first_and_takes_an_acknowledgement() {
    let ns = NetNs::new();
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("netkpi.toml");
    std::fs::write(&config, lab_config("data")).expect("write config");
    let daemon = Daemon::start(&ns, &config, listen(), tmp.path().join("netkpi.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "every device up",
        Duration::from_secs(15),
        |doc| {
            DEVICES
                .iter()
                .all(|d| state_of(doc, "devices", "name", d) == "up")
        },
    );

    ns.take_down(ACC2);
    let (root, line) = daemon.wait_until(
        "the acc-002 and L-002 incidents",
        Duration::from_secs(20),
        || {
            let open = open_incidents(&daemon);
            let find = |t: &str| open.iter().find(|i| i["target"] == t).cloned();
            match (find("acc-002"), find("L-002")) {
                (Some(d), Some(l)) => Ok((d, l)),
                _ => Err(open),
            }
        },
    );
    let id = root["id"].as_u64().expect("incident id");
    let line_id = line["id"].as_u64().expect("incident id");
    assert_eq!(
        line["root_id"].as_u64(),
        Some(id),
        "L-002 is behind acc-002"
    );

    // --- The page as Chromium renders it.
    let dom = dump_dom(&ns, tmp.path(), "page-1.html");
    check(dom.contains("<html lang=\"en\">"), "lang", &dom, &daemon);
    let order: Vec<Option<usize>> = ["problems", "incidents", "targets", "recent"]
        .iter()
        .map(|s| dom.find(&format!("<section id=\"{s}\"")))
        .collect();
    check(
        order.iter().all(Option::is_some) && order.windows(2).all(|w| w[0] < w[1]),
        &format!("sections in order problems, incidents, targets, recent: {order:?}"),
        &dom,
        &daemon,
    );
    let problems = section(&dom, "problems").unwrap();
    let first_up = dom.find("<tr class=\"up\"").unwrap_or(usize::MAX);
    let problems_at = order[0].unwrap();
    for name in ["acc-002", "L-002"] {
        let row = row_with(problems, &format!("<b>{name}</b>"));
        check(
            row.is_some_and(|r| r.starts_with("<tr class=\"down\"") && r.contains(">down<")),
            &format!("{name} listed as down among the problems: {row:?}"),
            &dom,
            &daemon,
        );
        let at = problems_at + problems.find(&format!("<b>{name}</b>")).unwrap();
        check(
            at < first_up,
            &format!("{name} before any up row"),
            &dom,
            &daemon,
        );
    }
    check(
        !problems.contains("<b>acc-001</b>") && !problems.contains("<b>core-r1</b>"),
        "only what is down is a problem",
        &dom,
        &daemon,
    );
    let incidents = section(&dom, "incidents").unwrap();
    let root_row = row_with(incidents, &format!("id=\"incident-{id}\"")).unwrap_or_default();
    let line_row = row_with(incidents, &format!("id=\"incident-{line_id}\"")).unwrap_or_default();
    check(
        root_row.contains("<b>acc-002</b>")
            && root_row.contains("root, 1 open behind it")
            && root_row.contains("not acknowledged")
            && root_row.contains(&format!("action=\"/ack/{id}\"")),
        &format!("the root incident row: {root_row}"),
        &dom,
        &daemon,
    );
    check(
        line_row.contains("<b>L-002</b>") && line_row.contains(&format!("behind #{id} acc-002")),
        &format!("the linked incident row: {line_row}"),
        &dom,
        &daemon,
    );
    check(
        incidents.find(root_row) < incidents.find(line_row),
        "the root before what it explains",
        &dom,
        &daemon,
    );

    // --- The form, posted as a browser posts it.
    let refused = [
        (
            format!("/ack/{}", id + 1000),
            "by=duty-li",
            "",
            404,
            "no incident",
        ),
        (
            format!("/ack/{id}"),
            "by=+&note=x",
            "",
            400,
            "by must not be empty",
        ),
        (
            format!("/ack/x{id}"),
            "by=duty-li",
            "",
            400,
            "not an incident id",
        ),
        (
            format!("/ack/{id}"),
            "by=duty-li",
            "Sec-Fetch-Site: cross-site",
            403,
            "another site",
        ),
    ];
    for (path, body, header, status, reason) in &refused {
        let headers: Vec<&str> = [*header].into_iter().filter(|h| !h.is_empty()).collect();
        let r = post_form(&ns, path, &headers, body);
        assert_eq!(r.status, *status, "POST {path} {body}: {}", r.body);
        assert!(
            r.body.contains(reason) && r.body.contains("<a href=\"/\">"),
            "POST {path} {body}: an HTML page with the reason and a way back: {}",
            r.body
        );
    }
    let r = post_form(
        &ns,
        &format!("/ack/{id}"),
        &[
            "Origin: http://127.0.0.1:9731",
            "Sec-Fetch-Site: same-origin",
        ],
        "by=duty-li&note=on+my+way%2C+%E6%9D%8E",
    );
    assert_eq!(r.status, 303, "the acknowledgement: {}", r.body);
    assert_eq!(r.header("location"), Some("/"));
    let shown = daemon.get_json(&format!("/api/v1/incidents/{id}"));
    assert_eq!(shown["acknowledged_by"], "duty-li", "{shown}");
    assert_eq!(shown["notes"][0]["text"], "on my way, 李", "{shown}");
    let again = post_form(&ns, &format!("/ack/{id}"), &[], "by=other");
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("duty-li"), "{}", again.body);

    let dom = dump_dom(&ns, tmp.path(), "page-2.html");
    let incidents = section(&dom, "incidents").unwrap_or_default();
    let root_row = row_with(incidents, &format!("id=\"incident-{id}\"")).unwrap_or_default();
    check(
        root_row.contains("acknowledged by duty-li at ") && !root_row.contains("<form"),
        &format!("acknowledged, no form left: {root_row}"),
        &dom,
        &daemon,
    );
    let line_row = row_with(incidents, &format!("id=\"incident-{line_id}\"")).unwrap_or_default();
    // Acknowledging the root took on what is behind it.
    check(
        line_row.contains("acknowledged by duty-li at ") && !line_row.contains("<form"),
        &format!("L-002's incident acknowledged with its root: {line_row}"),
        &dom,
        &daemon,
    );

    // --- A screenshot: a page with content compresses far worse than a
    // blank one of the same size taken the same way.
    let (page_png, page_size) = screenshot(&ns, tmp.path(), PAGE, "page.png");
    let (_, blank_size) = screenshot(&ns, tmp.path(), "about:blank", "blank.png");
    println!(
        "screenshot {}: {page_size} bytes; about:blank: {blank_size} bytes",
        page_png.display()
    );
    assert!(
        page_size > 4 * blank_size && page_size > 20_000,
        "the page's screenshot ({page_size} bytes) is not much larger than a blank one \
         ({blank_size} bytes): nothing rendered?\n--- DOM:\n{dom}"
    );
}

/// With `daemon.api_token_file` the forms ask for the token, and the form
/// endpoint applies the API's rule to it; the token never shows on the page.
#[test]
fn the_form_needs_the_token_when_one_is_configured() {
    let ns = NetNs::new();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("token"), "sentinel-token-4711\n").unwrap();
    let config = tmp.path().join("netkpi.toml");
    let text = lab_config("data").replacen(
        "timezone = \"Asia/Shanghai\"",
        "timezone = \"Asia/Shanghai\"\napi_token_file = \"token\"",
        1,
    );
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&ns, &config, listen(), tmp.path().join("netkpi.log"));
    ns.take_down(ACC2);
    let id = daemon.wait_until("acc-002's incident", Duration::from_secs(20), || {
        let open = open_incidents(&daemon);
        open.iter()
            .find(|i| i["target"] == "acc-002")
            .and_then(|i| i["id"].as_u64())
            .ok_or(open)
    });
    let (status, page) = daemon.get("/");
    assert_eq!(status, 200);
    let form = row_with(&page, &format!("action=\"/ack/{id}\"")).unwrap_or_default();
    assert!(
        form.contains("type=\"password\" name=\"token\" required"),
        "the form asks for the token: {form}"
    );
    assert!(!page.contains("sentinel-token-4711"));

    let path = format!("/ack/{id}");
    for (body, why) in [
        ("by=duty-li", "needs the token field"),
        ("by=duty-li&token=", "needs the token field"),
        ("by=duty-li&token=wrong", "wrong token"),
    ] {
        let r = post_form(&ns, &path, &[], body);
        assert_eq!(r.status, 401, "{body}: {}", r.body);
        assert!(r.body.contains(why), "{body}: {}", r.body);
    }
    assert_eq!(
        daemon.get_json(&format!("/api/v1/incidents/{id}"))["acknowledged_by"],
        Value::Null,
        "nothing recorded"
    );
    let r = post_form(&ns, &path, &[], "by=duty-li&token=sentinel-token-4711");
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        daemon.get_json(&format!("/api/v1/incidents/{id}"))["acknowledged_by"],
        "duty-li"
    );
}
