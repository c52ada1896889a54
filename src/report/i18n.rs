//! Every heading, label and sentence the report prints, in English and
//! Chinese: one table, so a label is translated once and every format
//! (and the drafted text) takes it from here.

use std::fmt;

/// The report's language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    Zh,
    #[default]
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The text of `key` in this language; "?" when the table lacks it
    /// (a test renders every table in both languages and finds none).
    pub fn t(self, key: &str) -> &'static str {
        match TABLE.iter().find(|(k, _, _)| *k == key) {
            Some((_, en, zh)) => match self {
                Lang::En => en,
                Lang::Zh => zh,
            },
            None => "?",
        }
    }

    /// A label given in both languages, in this one.
    pub fn pick(self, label: &crate::config::report::Label) -> &str {
        match self {
            Lang::En => &label.en,
            Lang::Zh => &label.zh,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `(key, English, Chinese)`. Sentences take `{}` placeholders filled in
/// order by [`fill`].
pub const TABLE: &[(&str, &str, &str)] = &[
    // Titles and sections.
    ("title", "Network operations report", "网络运维报告"),
    ("period", "Period", "统计期间"),
    ("generated_at", "Generated", "生成时间"),
    ("timezone", "Time zone", "时区"),
    ("notice", "Notice", "说明"),
    ("section.form", "Performance evaluation form", "绩效自评表"),
    ("section.lines", "Leased lines", "专线可用性"),
    ("section.devices", "Devices", "设备可用性"),
    ("section.monthly", "Availability by month", "月度可用率"),
    ("section.incidents", "Incidents", "故障事件"),
    ("section.maintenance", "Maintenance windows and reclassifications", "维护窗口及重新分类记录"),
    ("section.method", "Method", "计算方法"),
    ("section.energy", "Energy", "能耗"),
    // Form columns.
    ("col.level1", "Level 1", "一级指标"),
    ("col.level2", "Level 2", "二级指标"),
    ("col.name", "Indicator", "三级指标"),
    ("col.source", "Source", "数据来源"),
    ("col.target", "Target", "指标值"),
    ("col.actual", "Actual", "实际完成值"),
    ("col.unit", "Unit", "单位"),
    ("col.weight", "Weight", "分值"),
    ("col.score", "Score", "得分"),
    ("col.met", "Met", "是否达标"),
    ("col.basis", "Basis", "计算依据"),
    ("col.deviation", "Deviation analysis", "偏差原因分析"),
    ("total", "Total", "合计"),
    // Target columns.
    ("col.line", "Line", "专线编号"),
    ("col.member_unit", "Unit", "接入单位"),
    ("col.carrier", "Carrier", "运营商"),
    ("col.bandwidth", "Bandwidth", "带宽"),
    ("col.device", "Device", "设备"),
    ("col.role", "Role", "类型"),
    ("col.category", "Category", "类别"),
    ("col.site", "Site", "位置"),
    ("col.availability_target", "Availability target", "可用率目标"),
    ("col.availability", "Availability", "可用率"),
    ("col.coverage", "Coverage", "监测覆盖率"),
    ("col.up_min", "Up (min)", "正常(分钟)"),
    ("col.down_min", "Downtime (min)", "中断时长(分钟)"),
    ("col.degraded_min", "Degraded (min)", "降级(分钟)"),
    ("col.unknown_min", "Unknown (min)", "未知(分钟)"),
    ("col.maintenance_min", "Maintenance (min)", "计划维护(分钟)"),
    ("col.outages", "Outages", "中断次数"),
    ("col.longest_min", "Longest outage (min)", "最长中断(分钟)"),
    ("col.met_target", "Met target", "是否达标"),
    ("col.target_name", "Target", "对象"),
    ("col.kind", "Kind", "类型"),
    ("col.month", "Month", "月份"),
    ("col.kwh", "Energy (kWh)", "用电量（千瓦时）"),
    ("col.year_total", "Period", "全期"),
    // Incident columns.
    ("col.id", "Id", "编号"),
    ("col.severity", "Severity", "级别"),
    ("col.opened_at", "Opened", "发生时间"),
    ("col.acknowledged_at", "Acknowledged", "响应时间"),
    ("col.acknowledged_by", "Acknowledged by", "响应人"),
    ("col.restored_at", "Restored", "恢复时间"),
    ("col.response_s", "Time to respond (s)", "响应用时(秒)"),
    ("col.restore_s", "Time to restore (s)", "恢复用时(秒)"),
    ("col.sla_met", "SLA met", "符合时限"),
    ("col.planned", "Planned", "计划内"),
    ("col.root", "Root incident", "根源事件"),
    ("col.cause", "Cause", "原因"),
    // Window columns.
    ("col.origin", "Origin", "来源"),
    ("col.targets", "Targets", "对象"),
    ("col.start", "Start", "开始"),
    ("col.end", "End", "结束"),
    ("col.reason", "Reason", "原因"),
    ("col.declared_by", "Declared by", "登记人"),
    ("col.declared_at", "Declared at", "登记时间"),
    ("col.reclassifies", "Reclassification", "事后重新分类"),
    ("origin.config", "config file", "配置文件"),
    ("origin.declared", "declared through the API", "接口登记"),
    // Method.
    ("col.figure", "Figure", "指标"),
    ("col.definition", "Definition", "定义"),
    ("ledger.records", "Ledger records", "台账记录数"),
    ("ledger.head", "Ledger chain head (SHA-256)", "台账哈希链头(SHA-256)"),
    ("ledger.at", "Latest record", "最新记录时间"),
    (
        "def.availability",
        "availability = (up + degraded) / (up + degraded + down) over the period, 7×24, time inside maintenance windows excluded; unknown time (not observed) is never counted as up",
        "可用率 = (正常 + 降级) / (正常 + 降级 + 中断)，按 7×24 小时统计，计划维护窗口内的时间不计；未监测到的(未知)时间不计为正常",
    ),
    (
        "def.coverage",
        "coverage = (up + degraded + down) / (period − maintenance): the share of the period actually observed",
        "监测覆盖率 = (正常 + 降级 + 中断) / (统计期间 − 计划维护)：实际监测到的时间占比",
    ),
    (
        "def.pooled",
        "a group's (or the whole network's) availability pools its targets' times: Σ(up + degraded) / Σ(up + degraded + down)",
        "分组(或全网)可用率按各对象时间合计：Σ(正常 + 降级) / Σ(正常 + 降级 + 中断)",
    ),
    (
        "def.outage",
        "an outage is a stretch of down time outside maintenance; one interrupted only by a restart of the monitor (unknown) or by maintenance is one outage",
        "一次中断为计划维护以外的连续中断时间；仅被监测程序重启(未知)或计划维护隔开的中断算作一次",
    ),
    (
        "def.incident",
        "time to respond = acknowledged − opened; time to restore = restored − opened; an incident opened inside a maintenance window is planned and left out of the SLA figures",
        "响应用时 = 响应时间 − 发生时间；恢复用时 = 恢复时间 − 发生时间；计划维护窗口内发生的事件为计划内事件，不计入时限考核",
    ),
    (
        "def.units_connected",
        "units connected = lines whose availability met their target ÷ lines planned (lines configured when none are planned)",
        "接入单位连通率 = 可用率达到目标的专线数 ÷ 计划专线数(未设计划数时为已配置专线数)",
    ),
    (
        "def.period",
        "the period is [from, to) in the configured time zone; times after the report was generated are not counted",
        "统计期间为配置时区下的 [起, 止)；报告生成之后的时间不计",
    ),
    // Units and values.
    ("unit.count", "", ""),
    ("unit.ratio", "%", "%"),
    ("unit.seconds", "min", "分钟"),
    ("unit.kwh", "kWh", "千瓦时"),
    ("yes", "yes", "是"),
    ("no", "no", "否"),
    ("none", "—", "—"),
    ("role.router", "router", "路由器"),
    ("role.core_switch", "core switch", "核心交换机"),
    ("role.aggregation_switch", "aggregation switch", "汇聚交换机"),
    ("role.access_egress", "access egress", "接入设备"),
    ("role.firewall", "firewall", "防火墙"),
    ("role.ips", "IPS", "入侵防御"),
    ("role.load_balancer", "load balancer", "负载均衡"),
    ("role.ups", "UPS", "UPS"),
    ("role.air_conditioner", "air conditioner", "精密空调"),
    ("role.env_sensor", "environment sensor", "环境传感器"),
    ("role.other", "other", "其他"),
    ("category.core", "core", "核心"),
    ("category.access", "access", "接入"),
    ("severity.critical", "critical", "紧急"),
    ("severity.major", "major", "重要"),
    ("severity.minor", "minor", "一般"),
    ("kind.device", "device", "设备"),
    ("kind.line", "line", "专线"),
    ("kind.group", "group", "合计"),
    ("group.all", "all targets", "全部对象"),
    ("group.core", "core devices", "核心设备"),
    ("group.access", "access devices", "接入设备"),
    ("group.lines", "leased lines", "专线"),
    // Worksheet names (XLSX): at most 31 characters, none of []:*?/\.
    ("sheet.form", "Evaluation form", "绩效自评表"),
    ("sheet.lines", "Leased lines", "专线可用性"),
    ("sheet.devices", "Devices", "设备可用性"),
    ("sheet.monthly", "Availability by month", "月度可用率"),
    ("sheet.monthly_downtime", "Downtime by month", "月度中断时长"),
    ("sheet.incidents", "Incidents", "故障事件"),
    ("sheet.maintenance", "Maintenance", "维护窗口"),
    ("sheet.method", "Method", "计算方法"),
    ("sheet.energy", "Energy", "能耗"),
    // Charts (XLSX and HTML).
    ("chart.monthly", "Availability by month (pooled groups)", "月度可用率(分组合计)"),
    ("chart.durations", "Time to respond and to restore", "响应用时与恢复用时分布"),
    ("chart.respond", "Time to respond", "响应用时"),
    ("chart.restore", "Time to restore", "恢复用时"),
    (
        "chart.durations_caption",
        "Time to respond and to restore of the unplanned incidents ({} acknowledged, {} restored), by duration",
        "计划外故障事件的响应用时与恢复用时分布(已响应 {} 起，已恢复 {} 起)",
    ),
    // Drafted sentences ({} filled in order).
    ("notice.empty", "The store holds no record for this period: every figure is unknown.", "存储中没有该期间的记录，所有指标均为未知。"),
    ("dev.no_data", "No data: {}.", "无数据：{}。"),
    ("dev.no_manual", "no value entered for {} in the manual-entries file", "人工录入文件中没有 {} 的数值"),
    ("dev.no_energy", "no UPS recorded energy in the period", "本期无 UPS 能耗数据"),
    (
        "dev.energy_coverage",
        "energy was recorded for {} of the time: polls missing or too far apart are not extrapolated",
        "能耗数据覆盖 {} 的时间：缺失或间隔过长的轮询不做推算",
    ),
    ("dev.nothing_observed", "nothing was observed in the period", "该期间没有监测数据"),
    ("dev.no_incidents", "no incident was judged in the period", "该期间没有可考核的故障事件"),
    ("dev.below", "{} against a target of {}.", "实际 {}，目标 {}。"),
    ("dev.unobserved", "Not observed in the period: {}.", "该期间未监测到：{}。"),
    ("dev.missing", "Only {} configured ([planned]: {}).", "仅配置 {} 个(计划数 {})。"),
    ("dev.worst", "Most downtime: {}.", "中断最多：{}。"),
    ("dev.target_downtime", "{} down {} min in {} outage(s)", "{} 中断 {} 分钟({} 次)"),
    ("dev.lines_missed", "{} of {} lines below their availability target: {}.", "{} 条专线(共 {} 条)未达到可用率目标：{}。"),
    ("dev.late_restore", "{} of {} faults restored after the deadline ({}): {}.", "{} 起故障(共 {} 起)超过恢复时限({})：{}。"),
    ("dev.late_respond", "{} of {} faults acknowledged after the deadline ({}): {}.", "{} 起故障(共 {} 起)超过响应时限({})：{}。"),
    ("dev.not_acknowledged", "not acknowledged", "未响应"),
    ("dev.not_restored", "not restored yet", "尚未恢复"),
    ("dev.slowest", "Slowest: {}.", "用时最长：{}。"),
    ("dev.faults", "{} faults; most on: {}.", "共 {} 起故障，最多的对象：{}。"),
    ("dev.unknown_time", "{} min of the period were not observed (monitor not running or no data).", "期间有 {} 分钟未监测到(监测程序未运行或无数据)。"),
    ("dev.manual_note", "Entered by hand: {}.", "人工录入：{}。"),
    ("basis.count_of", "{} of {}", "{} / {}"),
    ("basis.observed_time", "{} targets, {} min observed", "{} 个对象，监测 {} 分钟"),
    ("basis.incidents", "{} incidents", "{} 起事件"),
    ("basis.energy", "{} UPS devices, coverage {}", "{} 台 UPS，数据覆盖率 {}"),
    ("basis.sites", "sites: {}", "机房：{}"),
    ("progress.read", "reading the ledger", "读取台账"),
    ("progress.incidents", "incidents", "故障事件"),
];

/// `template` with each `{}` replaced by the next of `args`.
pub fn fill(template: &str, args: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut args = args.iter();
    let mut rest = template;
    while let Some(i) = rest.find("{}") {
        out.push_str(&rest[..i]);
        out.push_str(args.next().copied().unwrap_or(""));
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_once_and_both_languages_have_the_same_placeholders() {
        for (i, (key, en, zh)) in TABLE.iter().enumerate() {
            assert!(
                TABLE[..i].iter().all(|(k, _, _)| k != key),
                "{key} listed twice"
            );
            assert_eq!(en.matches("{}").count(), zh.matches("{}").count(), "{key}");
        }
    }

    #[test]
    fn fill_in_order() {
        assert_eq!(fill("{} of {}", &["3", "41"]), "3 of 41");
        assert_eq!(fill("no args", &[]), "no args");
    }
}
