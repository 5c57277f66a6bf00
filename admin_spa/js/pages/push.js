// 推送监控: the 桂妇儿 push outbox — counts over time, a filtered list, one record's
// payload and the platform's field errors; retry, discard (with a reason), replay (with
// the count confirmed); live through the pushStatusChanged subscription, else polling.

import { gql, subscribe } from "../api.js";
import { h, replace, fmtDateTime, fmtPercent, fmtShort } from "../dom.js";
import { barChart } from "../chart.js";
import { setQuery } from "../router.js";
import { CursorPager, confirmDialog, errorBox, field, loadInto, modal, notice, pill, reasonDialog, section, spinner, table, toast } from "../ui.js";

export const PUSH_STATUS = {
  PENDING: { label: "待推送", kind: "info", color: "#3366cc" },
  HELD: { label: "待审核", kind: "warn", color: "#c9a227" },
  DELIVERED: { label: "已接收", kind: "ok", color: "#2e9e5b" },
  REJECTED: { label: "需修正数据", kind: "err", color: "#d62c1f" },
  SUPERSEDED: { label: "已被取代", kind: "off", color: "#8a9099" },
  DISCARDED: { label: "已放弃", kind: "off", color: "#4b4f55" },
};
export const RECORD_TYPES = {
  MATERNAL_REGISTRATION: "孕产妇建档",
  PRENATAL_VISIT: "产前检查",
  HIGH_RISK_ASSESSMENT: "高危评估",
  INFECTIOUS_SCREENING: "传染病检测",
  ULTRASOUND_NT: "NT 检查",
};
const OUTCOMES = {
  DELIVERED: ["已接收", "ok"],
  SUPERSEDED: ["已被取代", "off"],
  FIX_DATA: ["需修正数据", "err"],
  FIX_CONFIGURATION: ["需修正配置", "err"],
  TRY_LATER: ["稍后重试", "warn"],
};
const POLL_MS = 10000;
const LIVE_THROTTLE_MS = 2000;

const RECORD_FIELDS = `id recordType recordId pregnancyId version deliveredVersion status statusLabel attempts
  nextAttemptAt lastAttemptAt deliveredAt createdAt updatedAt changedBy
  lastError { outcome code httpStatus message fieldErrors { field reason } }`;

const LIST = `
query PushRecords($filter: PushRecordFilter, $first: Int, $after: String) {
  pushRecords(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { ${RECORD_FIELDS} payload } }
  }
}`;

const COUNT = `
query PushRecordCount($filter: PushRecordFilter) {
  pushRecords(filter: $filter, first: 1) { totalCount }
}`;

const STATS = `
query PushStatistics($since: DateTime, $until: DateTime, $bucketMinutes: Int!) {
  pushStatistics(since: $since, until: $until, bucketMinutes: $bucketMinutes) {
    byStatus { status recordType count }
    series { bucketStart outcome count }
    successRate
  }
  pushChannel { configured baseUrl paused pauseReason pausedAt consecutiveFailures retryAt lastReconcileAt }
}`;

const DETAIL = `
query PushRecordDetail($recordId: String!) {
  pushRecords(filter: { recordId: $recordId }, first: 1) {
    edges { node {
      ${RECORD_FIELDS}
      payload reviewedBy platformId platformVersion reconciledAt discardedBy discardedAt discardReason
      history { version attemptedAt durationMs outcome code httpStatus detail fieldErrors { field reason } }
    } }
  }
}`;

const PAYLOAD_OUT = "records { id status } userErrors { field message code }";
const RETRY = `mutation RetryPushRecords($input: RetryPushRecordsInput!) { retryPushRecords(input: $input) { ${PAYLOAD_OUT} } }`;
const DISCARD = `mutation DiscardPushRecord($input: DiscardPushRecordInput!) { discardPushRecord(input: $input) { ${PAYLOAD_OUT} } }`;
const REPLAY = `mutation ReplayPushRecords($input: ReplayPushRecordsInput!) { replayPushRecords(input: $input) { ${PAYLOAD_OUT} } }`;
const APPROVE = `mutation ApprovePushRecords($input: ApprovePushRecordsInput!) { approvePushRecords(input: $input) { ${PAYLOAD_OUT} } }`;
const RESUME = `mutation ResumePushChannel { resumePushChannel { channel { paused } userErrors { field message code } } }`;

const LIVE = `subscription PushLive($filter: PushRecordFilter) { pushStatusChanged(filter: $filter) { id recordId status } }`;

const RANGES = {
  "24h": { label: "最近 24 小时", hours: 24, minutes: 60, unit: "每小时" },
  "7d": { label: "最近 7 天", hours: 24 * 7, minutes: 720, unit: "每 12 小时" },
  "30d": { label: "最近 30 天", hours: 24 * 30, minutes: 1440, unit: "每天" },
};
const OUTCOME_COLORS = { DELIVERED: "#2e9e5b", SUPERSEDED: "#8a9099", FIX_DATA: "#d62c1f", FIX_CONFIGURATION: "#7d3cb5", TRY_LATER: "#c9a227" };

function statusPill(status, label) {
  const s = PUSH_STATUS[status];
  return s ? pill(label || s.label, s.kind) : pill(label || status);
}

function userErrorText(errors) {
  return errors.map((e) => e.message).join("；");
}

function patientOf(record) {
  const p = record.payload && record.payload.patient;
  return p && p.name ? p.name : "—";
}

/** Live updates: the subscription when the socket works, else polling; returns stop(). */
function live(indicator, refresh, filter = null) {
  let timer = null;
  let pending = null;
  // Many records may change at once (a drain): refresh at most every few seconds.
  const soon = () => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refresh(); }, LIVE_THROTTLE_MS);
  };
  const poll = (reason) => {
    indicator.className = "live poll";
    indicator.textContent = `定时刷新（每 ${POLL_MS / 1000} 秒）`;
    indicator.title = reason || "";
    timer = setInterval(refresh, POLL_MS);
  };
  indicator.className = "live";
  indicator.textContent = "正在连接实时更新…";
  const stop = subscribe(LIVE, { filter }, {
    onConnected: () => { indicator.className = "live on"; indicator.textContent = "实时更新已连接"; },
    onNext: soon,
    onFallback: poll,
  });
  return () => {
    stop();
    if (timer) clearInterval(timer);
    if (pending) clearTimeout(pending);
  };
}

/** Bucket starts from the first to the last, with the empty ones filled in. */
function bucketAxis(points, minutes) {
  const times = [...new Set(points.map((p) => Date.parse(p.bucketStart)))].sort((a, b) => a - b);
  if (!times.length) return [];
  const out = [];
  for (let t = times[0]; t <= times[times.length - 1] && out.length < 400; t += minutes * 60000) out.push(t);
  return out;
}

export function render(ctx) {
  return ctx.params.recordId ? renderDetail(ctx) : renderMonitor(ctx);
}

function renderMonitor(ctx) {
  const q = ctx.query;
  const indicator = h("span", { class: "live" });
  const channelBox = h("div");
  const statsBox = h("div");
  const listBox = h("div", { "aria-live": "polite" });
  const pager = new CursorPager(20);
  const selected = new Set();
  let rangeKey = RANGES[q.get("range")] ? q.get("range") : "7d";

  const range = field({ name: "range", label: "统计范围", kind: "select", value: rangeKey,
    options: Object.entries(RANGES).map(([value, r]) => ({ value, label: r.label })) });
  range.input.addEventListener("change", () => { rangeKey = range.value(); loadStats(); });

  const fStatus = field({ name: "status", label: "状态", kind: "select", value: q.get("status") || "",
    options: [{ value: "", label: "全部状态" }, ...Object.entries(PUSH_STATUS).map(([value, s]) => ({ value, label: s.label }))] });
  const fType = field({ name: "recordType", label: "记录类型", kind: "select", value: q.get("recordType") || "",
    options: [{ value: "", label: "全部类型" }, ...Object.entries(RECORD_TYPES).map(([value, label]) => ({ value, label }))] });
  const fRecord = field({ name: "recordId", label: "平台记录号", value: q.get("recordId") || "", placeholder: "例如 visit-1024" });
  const fSince = field({ name: "changedSince", label: "变化时间晚于", kind: "date", value: q.get("since") || "" });

  const filter = () => {
    const f = {};
    if (fStatus.value()) f.statuses = [fStatus.value()];
    if (fType.value()) f.recordTypes = [fType.value()];
    if (fRecord.value().trim()) f.recordId = fRecord.value().trim();
    if (fSince.value()) f.changedSince = `${fSince.value()}T00:00:00+08:00`;
    return f;
  };
  const remember = () => setQuery({ range: rangeKey, status: fStatus.value(), recordType: fType.value(), recordId: fRecord.value().trim(), since: fSince.value() });

  function showChannel(channel) {
    if (!channel.configured) {
      replace(channelBox, notice("推送通道未配置：请设置 GUIFUER_BASE_URL、GUIFUER_APP_ID、GUIFUER_APP_SECRET、GUIFUER_ORG_CODE 后重启服务。未配置期间记录在队列中等待，不会丢失。", "warn"));
    } else if (channel.paused) {
      replace(channelBox, h("div", { class: "notice error", role: "alert" },
        h("strong", null, "推送通道已暂停"), `（${fmtDateTime(channel.pausedAt)}）：${channel.pauseReason || "原因未记录"} 处理后点击“恢复推送”。 `,
        h("button", { type: "button", class: "button small", onclick: resume }, "恢复推送")));
    } else {
      const parts = [`推送通道正常：${channel.baseUrl || ""}`];
      if (channel.consecutiveFailures) parts.push(`平台连续 ${channel.consecutiveFailures} 次不可用，${fmtDateTime(channel.retryAt)} 再试`);
      if (channel.lastReconcileAt) parts.push(`最近核对 ${fmtDateTime(channel.lastReconcileAt)}`);
      replace(channelBox, notice(parts.join("；"), channel.consecutiveFailures ? "warn" : "ok"));
    }
  }

  async function resume() {
    try {
      const r = (await gql(RESUME)).resumePushChannel;
      if (r.userErrors.length) { toast(userErrorText(r.userErrors), "error"); return; }
      toast("推送已恢复", "ok");
      refresh();
    } catch (error) { toast(error.message, "error"); }
  }

  function loadStats() {
    remember();
    return loadInto(statsBox, async () => {
      const r = RANGES[rangeKey];
      const until = new Date();
      const since = new Date(until.getTime() - r.hours * 3600 * 1000);
      const data = await gql(STATS, { since: since.toISOString(), until: until.toISOString(), bucketMinutes: r.minutes });
      showChannel(data.pushChannel);
      return statsView(data.pushStatistics, r);
    }, "正在统计推送情况…");
  }

  function statsView(stats, r) {
    const statuses = Object.keys(PUSH_STATUS);
    const types = Object.keys(RECORD_TYPES);
    const count = (type, status) => stats.byStatus.filter((c) => (!type || c.recordType === type) && (!status || c.status === status)).reduce((a, c) => a + c.count, 0);
    const axis = bucketAxis(stats.series, r.minutes);
    const outcomes = [...new Set(stats.series.map((p) => p.outcome))];
    const attemptSeries = outcomes.map((o) => ({
      name: OUTCOMES[o] ? OUTCOMES[o][0] : o,
      color: OUTCOME_COLORS[o],
      values: axis.map((t) => stats.series.filter((p) => p.outcome === o && Date.parse(p.bucketStart) === t).reduce((a, p) => a + p.count, 0)),
    }));
    const label = (t) => (r.minutes < 1440 ? fmtShort(new Date(t).toISOString()) : fmtShort(new Date(t).toISOString()).slice(0, 5));
    return h("div", null,
      h("div", { class: "stats" },
        statuses.map((st) => h("div", { class: "card", dataset: { status: st } },
          h("div", { class: "stat" }, String(count(null, st))), h("div", { class: "stat-label" }, statusPill(st)))),
        h("div", { class: "card" }, h("div", { class: "stat" }, stats.successRate === null ? "—" : fmtPercent(stats.successRate)), h("div", { class: "stat-label" }, `${r.label}尝试成功率`))),
      h("div", { class: "grid-2" },
        barChart({
          title: "当前各类型记录的状态",
          categories: types.map((t) => RECORD_TYPES[t]),
          series: statuses.map((st) => ({ name: PUSH_STATUS[st].label, color: PUSH_STATUS[st].color, values: types.map((t) => count(t, st)) })).filter((s) => s.values.some((v) => v)),
          stacked: true,
          yLabel: "记录数",
          width: 520,
          height: 300,
        }),
        axis.length
          ? barChart({ title: `推送尝试及结论（${r.label}，${r.unit}）`, categories: axis.map(label), series: attemptSeries, stacked: true, yLabel: "尝试次数", width: 520, height: 300 })
          : h("figure", { class: "chart" }, h("figcaption", null, `推送尝试及结论（${r.label}）`), h("p", { class: "empty" }, `${r.label}没有推送尝试。`))),
      table([
        { label: "记录类型", render: (t) => RECORD_TYPES[t] },
        ...statuses.map((st) => ({ label: PUSH_STATUS[st].label, class: "num", render: (t) => String(count(t, st)) })),
        { label: "合计", class: "num", render: (t) => String(count(t, null)) },
      ], types, { caption: "当前记录数：按记录类型与状态" }));
  }

  function loadList() {
    remember();
    return loadInto(listBox, async () => {
      const data = await gql(LIST, { filter: filter(), first: pager.pageSize, after: pager.after });
      const conn = data.pushRecords;
      const rows = conn.edges.map((e) => e.node);
      selected.clear();
      const retryButton = h("button", { type: "button", class: "button", disabled: true, onclick: () => act(RETRY, "retryPushRecords", { ids: [...selected] }, (n) => `已安排立即重试 ${n} 条记录`) }, "重试所选");
      const approveButton = h("button", { type: "button", class: "button ghost", disabled: true, onclick: () => act(APPROVE, "approvePushRecords", { ids: [...selected] }, (n) => `已审核放行 ${n} 条记录`) }, "审核放行所选");
      const sync = () => {
        retryButton.disabled = approveButton.disabled = selected.size === 0;
        retryButton.textContent = selected.size ? `重试所选（${selected.size}）` : "重试所选";
      };
      return h("div", null,
        h("div", { class: "actions" }, retryButton, approveButton,
          h("button", { type: "button", class: "button ghost", onclick: replay }, "按当前条件重新推送…"),
          h("span", { class: "muted small" }, "重试：跳过等待立即再发当前版本；重新推送：以新版本重新发送符合条件的全部记录。")),
        table([
          { label: h("span", { class: "sr-only" }, "选择"), render: (r) => h("input", { type: "checkbox", "aria-label": `选择记录 ${r.recordId}`, onchange: (e) => {
            if (e.target.checked) selected.add(r.id); else selected.delete(r.id);
            sync();
          } }) },
          { label: "平台记录号", render: (r) => h("a", { href: `/admin/push/${encodeURIComponent(r.recordId)}` }, r.recordId), class: "nowrap" },
          { label: "类型", render: (r) => RECORD_TYPES[r.recordType] || r.recordType },
          { label: "孕妇", render: patientOf },
          { label: "版本", render: (r) => `v${r.version}${r.deliveredVersion ? ` / 已接收 v${r.deliveredVersion}` : ""}`, class: "nowrap" },
          { label: "状态", render: (r) => statusPill(r.status, r.statusLabel) },
          { label: "尝试", key: "attempts", class: "num" },
          { label: "最近错误", render: (r) => r.lastError ? `${r.lastError.message}${r.lastError.fieldErrors.length ? `（${r.lastError.fieldErrors.length} 个字段问题）` : ""}` : "—" },
          { label: "下次尝试", render: (r) => r.nextAttemptAt ? fmtDateTime(r.nextAttemptAt) : "—", class: "nowrap" },
          { label: "最近变化", render: (r) => fmtDateTime(r.updatedAt), class: "nowrap" },
        ], rows, { caption: "推送记录", hideCaption: true, empty: "没有符合条件的推送记录。" }),
        pager.controls({ totalCount: conn.totalCount, pageInfo: conn.pageInfo, onChange: loadList, label: "推送记录分页" }));
    }, "正在读取推送记录…");
  }

  async function act(mutation, name, input, done) {
    try {
      const r = (await gql(mutation, { input }))[name];
      if (r.userErrors.length) { toast(userErrorText(r.userErrors), "error"); return; }
      toast(done(r.records.length), "ok");
      selected.clear();
      refresh();
    } catch (error) { toast(error.message, "error"); }
  }

  async function replay() {
    const f = filter();
    let count;
    try {
      count = (await gql(COUNT, { filter: f })).pushRecords.totalCount;
    } catch (error) { toast(error.message, "error"); return; }
    if (!count) { toast("当前条件下没有可重新推送的记录", "error"); return; }
    const confirmed = await modal({
      title: "确认重新推送",
      build: ({ done, cancel }) => {
        const countField = field({ name: "expectedCount", label: `请输入将要重新推送的记录数（${count}）以确认`, kind: "integer", required: true });
        return h("form", { novalidate: true, onsubmit: (e) => {
          e.preventDefault();
          if (Number(countField.value()) !== count) { countField.setError(`输入的数目与将要重新推送的记录数 ${count} 不一致，请核对筛选条件`); countField.input.focus(); return; }
          done(count);
        } },
        h("p", null, `将以新版本把符合当前条件的 ${count} 条记录重新发送到桂妇儿平台（平台按记录号和版本去重，不会重复登记）。`),
        countField.el,
        h("div", { class: "actions" }, h("button", { type: "submit", class: "button danger" }, `重新推送 ${count} 条`), h("button", { type: "button", class: "button ghost", onclick: cancel }, "取消")));
      },
    });
    if (!confirmed) return;
    await act(REPLAY, "replayPushRecords", { filter: f, expectedCount: confirmed }, (n) => `已安排重新推送 ${n} 条记录`);
  }

  function refresh() {
    loadStats();
    // Keep the list (and the rows ticked for retry) while the user is choosing.
    if (selected.size === 0) loadList();
  }

  const filterForm = h("form", { class: "filters", novalidate: true, onsubmit: (e) => { e.preventDefault(); pager.reset(); loadList(); } },
    fStatus.el, fType.el, fRecord.el, fSince.el,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button" }, "筛选")));

  ctx.onLeave(live(indicator, refresh));
  loadStats();
  loadList();
  return h("div", null,
    h("div", { class: "page-head" }, h("h1", null, "推送监控"), indicator),
    channelBox,
    h("section", { class: "card", "aria-labelledby": "push-stats" },
      h("div", { class: "page-head" }, h("h2", { id: "push-stats" }, "推送统计"), h("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, range.el)),
      statsBox),
    h("section", { class: "card", "aria-labelledby": "push-list" }, h("h2", { id: "push-list" }, "推送记录"), filterForm, listBox));
}

function renderDetail(ctx) {
  const recordId = ctx.params.recordId;
  const root = h("div", null, spinner("正在读取推送记录…"));
  const indicator = h("span", { class: "live" });

  async function load() {
    try {
      const data = await gql(DETAIL, { recordId });
      const r = data.pushRecords.edges.length ? data.pushRecords.edges[0].node : null;
      if (!r) {
        replace(root, h("h1", null, "推送记录"), errorBox(new Error(`找不到平台记录号为“${recordId}”的推送记录：链接可能有误。请回到推送监控重新查找。`)), h("a", { href: "/admin/push", class: "button" }, "返回推送监控"));
        return;
      }
      show(r);
    } catch (error) {
      replace(root, h("h1", null, "推送记录"), errorBox(error, load));
    }
  }

  function show(r) {
    ctx.setTitle(`推送记录 ${r.recordId}`);
    const fieldErrors = [
      ...(r.lastError ? r.lastError.fieldErrors.map((f) => ({ ...f, source: r.lastError.outcome === "PREFLIGHT" ? "推送前检查" : "平台最近答复", version: r.version })) : []),
      ...r.history.flatMap((a) => a.fieldErrors.map((f) => ({ ...f, source: `${fmtDateTime(a.attemptedAt)} 平台答复`, version: a.version }))),
    ];
    const canRetry = !["DELIVERED", "DISCARDED", "HELD"].includes(r.status);
    const canDiscard = !["DELIVERED", "DISCARDED"].includes(r.status);
    replace(root,
      h("p", { class: "crumbs" }, h("a", { href: "/admin/push" }, "推送监控"), " › 推送记录"),
      h("div", { class: "page-head" },
        h("h1", null, `推送记录 ${r.recordId}`),
        h("div", { class: "actions" }, indicator,
          h("button", { type: "button", class: "button", disabled: !canRetry, onclick: () => act(RETRY, "retryPushRecords", { ids: [r.id] }, "已安排立即重试") }, "立即重试"),
          r.status === "HELD" ? h("button", { type: "button", class: "button ghost", onclick: () => act(APPROVE, "approvePushRecords", { ids: [r.id] }, "已审核放行") }, "审核放行") : null,
          h("button", { type: "button", class: "button ghost", onclick: () => replayOne(r) }, "重新推送…"),
          h("button", { type: "button", class: "button danger", disabled: !canDiscard, onclick: () => discard(r) }, "放弃推送…"))),
      section("概况", h("dl", { class: "facts" },
        ...[["记录类型", RECORD_TYPES[r.recordType] || r.recordType], ["状态", statusPill(r.status, r.statusLabel)],
          ["孕妇", patientOf(r)], ["孕产档案", h("a", { href: `/admin/archive/${encodeURIComponent(r.pregnancyId)}` }, "查看档案资料")],
          ["当前版本", `v${r.version}`], ["平台已接收版本", r.deliveredVersion ? `v${r.deliveredVersion}（${fmtDateTime(r.deliveredAt)}）` : "—"],
          ["尝试次数", String(r.attempts)], ["下次尝试", r.nextAttemptAt ? fmtDateTime(r.nextAttemptAt) : "—"],
          ["产生当前版本的修改人", r.changedBy || "—"], ["平台记录编号", r.platformId || "—"],
          ["首次写入", fmtDateTime(r.createdAt)], ["最近变化", fmtDateTime(r.updatedAt)],
          ...(r.reviewedBy ? [["审核放行人", r.reviewedBy]] : []),
          ...(r.platformVersion !== null && r.platformVersion !== undefined ? [["核对时平台版本", `v${r.platformVersion}（${fmtDateTime(r.reconciledAt)}）`]] : []),
          ...(r.discardedBy ? [["放弃人", r.discardedBy], ["放弃原因", `${r.discardReason || "—"}（${fmtDateTime(r.discardedAt)}）`]] : []),
        ].flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v)]))).el,
      section("平台指出的字段问题",
        r.lastError ? notice(`最近一次失败：${r.lastError.message}${r.lastError.code ? `（平台代码 ${r.lastError.code}）` : ""}`, "error") : null,
        table([
          { label: "字段", render: (f) => h("span", { class: "mono" }, f.field) },
          { label: "问题", key: "reason" },
          { label: "版本", render: (f) => `v${f.version}` },
          { label: "来源", key: "source" },
        ], fieldErrors, { caption: "字段问题", hideCaption: true, empty: "平台没有指出字段问题。" }),
        fieldErrors.length ? h("p", { class: "muted small" }, "修正办法：在临床界面修改对应数据（已归档的档案请提交数据更正申请）；保存后自动生成新版本并重新推送。") : null).el,
      section("报文（当前版本发送的内容）", h("pre", { class: "json", tabindex: "0", "aria-label": "推送报文" }, JSON.stringify(r.payload, null, 2))).el,
      section(`推送尝试（${r.history.length}）`, table([
        { label: "时间", render: (a) => fmtDateTime(a.attemptedAt), class: "nowrap" },
        { label: "版本", render: (a) => `v${a.version}` },
        { label: "结论", render: (a) => OUTCOMES[a.outcome] ? pill(...OUTCOMES[a.outcome]) : a.outcome },
        { label: "平台代码", render: (a) => a.code ?? "—", class: "num" },
        { label: "HTTP", render: (a) => a.httpStatus ?? "—", class: "num" },
        { label: "耗时 ms", render: (a) => String(a.durationMs), class: "num" },
        { label: "说明", render: (a) => a.detail || "—" },
      ], r.history, { caption: "推送尝试", hideCaption: true, empty: "还没有发送过。" })).el);
  }

  async function act(mutation, name, input, done) {
    try {
      const res = (await gql(mutation, { input }))[name];
      if (res.userErrors.length) { toast(userErrorText(res.userErrors), "error"); return; }
      toast(done, "ok");
      load();
    } catch (error) { toast(error.message, "error"); }
  }

  async function replayOne(r) {
    const ok = await confirmDialog({ title: "重新推送", message: `以新版本重新发送记录 ${r.recordId}（1 条）？`, confirmLabel: "重新推送 1 条" });
    if (ok) await act(REPLAY, "replayPushRecords", { ids: [r.id], expectedCount: 1 }, "已安排重新推送");
  }

  async function discard(r) {
    const reason = await reasonDialog({ title: "放弃推送", message: `放弃后，记录 ${r.recordId} 不再推送到平台；记录本身保留，之后数据有修改仍会生成新版本。`, label: "放弃原因", confirmLabel: "放弃推送", danger: true });
    if (!reason) return;
    await act(DISCARD, "discardPushRecord", { id: r.id, reason }, "已放弃推送");
  }

  ctx.onLeave(live(indicator, load, { recordId }));
  load();
  return root;
}
