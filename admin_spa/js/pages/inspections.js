// 巡检报告: the list (paged) with PDF downloads, trend charts over the reports' figures,
// and an on-demand inspection whose progress is shown while it runs.

import { gql, subscribe } from "../api.js";
import { h, replace, fmtDateTime, fmtShort } from "../dom.js";
import { lineChart } from "../chart.js";
import { CursorPager, errorBox, loadInto, notice, pill, progressBar, table, toast } from "../ui.js";

const REPORTS = `
query InspectionReports($first: Int, $after: String) {
  inspectionReports(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id trigger createdBy startedAt finishedAt highestSeverity downloadUrl figures
      findings { code severity severityLabel title detail action }
    } }
  }
}`;

const RUN = `
mutation RunInspection {
  runInspection { job { id status progress message } userErrors { field message code } }
}`;

const JOB = `query InspectionJob($id: ID!) { job(id: $id) { id status progress message } }`;
const JOB_LIVE = `subscription InspectionJobProgress($jobId: ID!) { jobProgress(jobId: $jobId) { id status progress message } }`;

const SEVERITY = { INFO: ["信息", "info"], NOTICE: ["提示", "info"], WARNING: ["警告", "warn"], CRITICAL: ["严重", "err"] };
const TRIGGER = { SCHEDULED: "定期", MANUAL: "手动", CLI: "命令行" };

// Figures followed over time: a path into `figures` (unmeasurable values are skipped).
const TRENDS = [
  { title: "数据库大小（MB）", series: [{ name: "数据库", path: "database.size.bytes", scale: 1 / 1048576 }] },
  { title: "磁盘与内存使用率", percent: true, series: [
    { name: "磁盘", path: "disk.usedPercent", scale: 0.01 }, { name: "内存", path: "memory.usedPercent", scale: 0.01 }] },
  { title: "推送积压与失败（条）", series: [{ name: "待推送", path: "push.waiting" }, { name: "需修正数据", path: "push.failed" }] },
  { title: "发现的问题（条）", series: [{ name: "警告", findings: "WARNING" }, { name: "严重", findings: "CRITICAL" }] },
];

function figure(report, spec) {
  if (spec.findings) return report.findings.filter((f) => f.severity === spec.findings).length;
  let value = report.figures;
  for (const key of spec.path.split(".")) value = value && typeof value === "object" ? value[key] : undefined;
  return typeof value === "number" ? Math.round(value * (spec.scale || 1) * 1000) / 1000 : null;
}

export function render(ctx) {
  const listBox = h("div", { "aria-live": "polite" });
  const trendBox = h("div");
  const runBox = h("div", { "aria-live": "polite" });
  const pager = new CursorPager(10);
  const canRun = ctx.viewer.roles.includes("admin");
  let stopJob = null;

  function loadList() {
    return loadInto(listBox, async () => {
      const data = await gql(REPORTS, { first: pager.pageSize, after: pager.after });
      const conn = data.inspectionReports;
      const rows = conn.edges.map((e) => e.node);
      if (pager.index === 0) drawTrend(rows);
      return h("div", null,
        table([
          { label: "巡检时间", render: (r) => fmtDateTime(r.finishedAt), class: "nowrap" },
          { label: "方式", render: (r) => TRIGGER[r.trigger] || r.trigger },
          { label: "执行人", render: (r) => r.createdBy || "—" },
          { label: "最高级别", render: (r) => pill(...(SEVERITY[r.highestSeverity] || [r.highestSeverity])) },
          { label: "发现", render: findingsOf },
          { label: "报告", render: (r) => r.downloadUrl ? h("a", { href: r.downloadUrl, download: "", class: "button small ghost", "aria-label": `下载 ${fmtDateTime(r.finishedAt)} 的巡检报告 PDF` }, "下载 PDF") : "PDF 未生成" },
        ], rows, { caption: "巡检报告", hideCaption: true, empty: "还没有巡检报告。" }),
        pager.controls({ totalCount: conn.totalCount, pageInfo: conn.pageInfo, onChange: loadList, label: "巡检报告分页" }));
    }, "正在读取巡检报告…");
  }

  function drawTrend(rows) {
    const ordered = [...rows].reverse();
    if (!ordered.length) { replace(trendBox, h("p", { class: "empty" }, "还没有巡检报告；巡检一次后显示指标，两次以上显示趋势。")); return; }
    const categories = ordered.map((r) => fmtShort(r.finishedAt).slice(0, 5));
    replace(trendBox, h("div", { class: "grid-2" }, TRENDS.map((t) => lineChart({
      title: t.title,
      categories,
      percent: Boolean(t.percent),
      series: t.series.map((spec) => ({ name: spec.name, values: ordered.map((r) => figure(r, spec)) })),
      height: 220,
      width: 520,
    }))));
  }

  function findingsOf(r) {
    const serious = r.findings.filter((f) => f.severity !== "INFO");
    return h("details", null,
      h("summary", null, serious.length ? `${serious.length} 项需关注：${serious.slice(0, 2).map((f) => f.title).join("；")}${serious.length > 2 ? "…" : ""}` : "无需关注的问题"),
      table([
        { label: "级别", render: (f) => pill(...(SEVERITY[f.severity] || [f.severityLabel])) },
        { label: "问题", key: "title" },
        { label: "说明", key: "detail" },
        { label: "建议措施", key: "action" },
      ], r.findings, { caption: "巡检发现", hideCaption: true, empty: "没有发现。" }));
  }

  async function run(button) {
    button.disabled = true;
    replace(runBox, progressBar(0, "巡检已排队"));
    try {
      const data = await gql(RUN);
      const r = data.runInspection;
      if (r.userErrors.length) { replace(runBox, notice(r.userErrors.map((e) => e.message).join("；"), "error")); button.disabled = false; return; }
      follow(r.job, button);
    } catch (error) {
      replace(runBox, errorBox(error));
      button.disabled = false;
    }
  }

  /** Job progress: the jobProgress subscription, else polling job(id). */
  function follow(job, button) {
    let timer = null;
    const show = (j) => {
      if (j.status === "SUCCEEDED") {
        finish();
        replace(runBox, notice("巡检完成，报告已生成。", "ok"));
        toast("巡检完成", "ok");
        pager.reset();
        loadList();
      } else if (j.status === "FAILED") {
        finish();
        replace(runBox, notice(`巡检失败：${j.message || "原因未知"}。请查看服务器日志后重试。`, "error"));
      } else {
        replace(runBox, progressBar(j.progress || 0, j.message || (j.status === "QUEUED" ? "巡检已排队" : "正在巡检")));
      }
    };
    const poll = () => {
      if (timer) return;
      timer = setInterval(async () => {
        try { show((await gql(JOB, { id: job.id })).job); } catch (error) { finish(); replace(runBox, errorBox(error)); }
      }, 1000);
    };
    const stop = subscribe(JOB_LIVE, { jobId: job.id }, { onNext: (d) => d && d.jobProgress && show(d.jobProgress), onFallback: poll });
    function finish() {
      stop();
      if (timer) clearInterval(timer);
      button.disabled = false;
      stopJob = null;
    }
    stopJob = finish;
    show(job);
  }

  ctx.onLeave(() => stopJob && stopJob());
  loadList();
  const runButton = canRun ? h("button", { type: "button", class: "button", onclick: (e) => run(e.currentTarget) }, "立即巡检") : null;
  return h("div", null,
    h("div", { class: "page-head" },
      h("div", null, h("h1", null, "巡检报告"), h("p", { class: "muted" }, "系统每季度自动巡检一次，也可随时手动巡检；报告 PDF 可打印签字。")),
      runButton),
    runBox,
    h("section", { class: "card", "aria-labelledby": "insp-trend" }, h("h2", { id: "insp-trend" }, "指标趋势"), trendBox),
    h("section", { class: "card", "aria-labelledby": "insp-list" }, h("h2", { id: "insp-list" }, "报告列表"), listBox));
}


