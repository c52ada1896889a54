//! The incident families, rendered at scrape time from the live view's
//! board of committed incidents (rebuilt from the store at start, so the
//! counters and histograms carry on across restarts).

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::collector::family;
use crate::incidents::board::Deadline;
use crate::live::Live;
use crate::model::{Severity, TargetKind};

const KINDS: [TargetKind; 2] = [TargetKind::Device, TargetKind::Line];

pub(super) fn encode_incidents(
    encoder: &mut DescriptorEncoder,
    live: &Live,
) -> Result<(), std::fmt::Error> {
    let now = jiff::Timestamp::now();
    let board = live.incidents();
    let by_severity = |count: &dyn Fn(TargetKind, Severity) -> u64| {
        let mut out = Vec::new();
        for kind in KINDS {
            for severity in Severity::ALL {
                out.push((kind, severity, count(kind, severity)));
            }
        }
        out
    };
    let open = by_severity(&|k, s| {
        board
            .open()
            .filter(|i| i.kind == k && i.severity == s)
            .count() as u64
    });
    let overdue = by_severity(&|k, s| {
        board
            .overdue(now)
            .filter(|i| i.kind == k && i.severity == s)
            .count() as u64
    });
    let total = by_severity(&|k, s| board.opened_total().get(&(k, s)).copied().unwrap_or(0));
    for (name, help, metric_type, rows) in [
        (
            "netkpi_incidents_open",
            "Incidents open now (planned ones included)",
            MetricType::Gauge,
            open,
        ),
        (
            "netkpi_incidents_unacknowledged_overdue",
            "Open, unplanned incidents nobody acknowledged within their respond_within deadline",
            MetricType::Gauge,
            overdue,
        ),
        (
            "netkpi_incidents",
            "Incidents ever opened",
            MetricType::Counter,
            total,
        ),
    ] {
        let mut f = family(encoder, name, help, metric_type)?;
        for (kind, severity, n) in rows {
            f.sample(
                &[("kind", kind.as_str()), ("severity", severity.as_str())],
                n as f64,
            )?;
        }
    }

    let mut f = family(
        encoder,
        "netkpi_incident_sla_breaches",
        "Unplanned incidents that missed a deadline (respond: acknowledged late or not at all while open; restore: restored late), counted when it became known",
        MetricType::Counter,
    )?;
    for kind in KINDS {
        for deadline in [Deadline::Respond, Deadline::Restore] {
            let n = board
                .breaches_total()
                .get(&(kind, deadline))
                .copied()
                .unwrap_or(0);
            f.sample(
                &[("kind", kind.as_str()), ("deadline", deadline.as_str())],
                n as f64,
            )?;
        }
    }

    for (name, help, get) in [
        (
            "netkpi_incident_response_seconds",
            "Time to respond (acknowledged - opened) of unplanned incidents",
            &(|k| board.response(k)) as &dyn Fn(TargetKind) -> _,
        ),
        (
            "netkpi_incident_restore_seconds",
            "Time to restore (restored - opened) of unplanned incidents, at each restoration",
            &|k| board.restore(k),
        ),
    ] {
        let mut descriptor = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
        for kind in KINDS {
            let d = get(kind);
            let labels = [("kind", kind.as_str())];
            let mut metric = descriptor.encode_family(&labels)?;
            metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                d.sum,
                d.count,
                &d.buckets(),
                None,
            )?;
        }
    }
    Ok(())
}
