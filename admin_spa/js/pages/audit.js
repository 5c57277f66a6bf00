// 审计日志 (auditor role): who read or changed which patient's data, when, how.

import { gql } from "../api.js";
import { h, fmtDateTime, fmtValue } from "../dom.js";
import { setQuery } from "../router.js";
import { CursorPager, field, formError, loadInto, pill, showUserErrors, table } from "../ui.js";

const EVENTS = `
query AuditEvents($filter: AuditEventFilter, $first: Int, $after: String) {
  auditEvents(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id at username action operationName entity entityId targetId requestId detail patients { id name nameInitials } } }
  }
}`;

const PATIENTS = `
query AuditPatients($search: String!) {
  patients(search: $search, first: 5) { edges { node { id name nameInitials } } }
}`;

const ACTIONS = {
  READ: ["读取", "info"], CREATE: ["新建", "ok"], UPDATE: ["修改", "warn"], DELETE: ["删除", "err"],
  ARCHIVE: ["归档", "off"], REOPEN: ["重新打开归档", "warn"], LOGIN: ["登录", "off"],
  REQUEST_CORRECTION: ["申请更正", "info"], APPROVE_CORRECTION: ["批准更正", "ok"], REJECT_CORRECTION: ["驳回更正", "off"],
  SET_PARAMETER: ["修改参数", "warn"], EXPORT: ["导出", "info"],
};

function detailText(detail) {
  if (!detail || typeof detail !== "object") return fmtValue(detail);
  const entries = Object.entries(detail);
  if (!entries.length) return "—";
  return entries.map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("；");
}

/** A patient's global ID (base64 of "Patient:<n>") pasted into the field. */
function isPatientId(text) {
  try {
    return /^Patient:\d+$/.test(atob(text));
  } catch {
    return false;
  }
}

export function render(ctx) {
  const q = ctx.query;
  const fields = {
    actor: field({ name: "actor", label: "人员（用户名）", value: q.get("actor") || "" }),
    patient: field({ name: "patient", label: "患者", value: q.get("patient") || "", hint: "姓名、拼音首字母或身份证号；或患者全局ID" }),
    action: field({ name: "action", label: "动作", value: q.get("action") || "", placeholder: "全部", hint: "例如 READ、UPDATE、REOPEN" }),
    from: field({ name: "from", label: "时间从", kind: "date", value: q.get("from") || "" }),
    to: field({ name: "to", label: "时间至", kind: "date", value: q.get("to") || "" }),
  };
  const actions = h("datalist", { id: "audit-actions" }, Object.entries(ACTIONS).map(([value, [label]]) => h("option", { value }, label)));
  fields.action.input.setAttribute("list", "audit-actions");
  const problem = formError();
  const box = h("div", { "aria-live": "polite" });
  const pager = new CursorPager(25);

  async function patientId() {
    const text = fields.patient.value().trim();
    if (!text) return null;
    if (isPatientId(text)) return text;
    const data = await gql(PATIENTS, { search: text });
    const found = data.patients.edges.map((e) => e.node);
    if (found.length === 0) throw Object.assign(new Error(`没有找到患者“${text}”，请换个关键字`), { field: "patient" });
    if (found.length > 1) throw Object.assign(new Error(`“${text}”匹配到 ${found.length} 位患者（${found.map((p) => p.name).join("、")}），请输入更完整的姓名或身份证号`), { field: "patient" });
    return found[0].id;
  }

  function load() {
    setQuery(Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.value().trim()])));
    return loadInto(box, async () => {
      const filter = {};
      if (fields.actor.value().trim()) filter.actor = fields.actor.value().trim();
      if (fields.action.value().trim()) filter.action = fields.action.value().trim().toUpperCase();
      if (fields.from.value()) filter.from = `${fields.from.value()}T00:00:00+08:00`;
      if (fields.to.value()) filter.to = `${fields.to.value()}T23:59:59+08:00`;
      try {
        const pid = await patientId();
        if (pid) filter.patientId = pid;
      } catch (error) {
        if (error.field) { showUserErrors(fields, problem, [{ field: error.field, message: error.message }]); return h("p", { class: "empty" }, "请先修正筛选条件。"); }
        throw error;
      }
      const data = await gql(EVENTS, { filter, first: pager.pageSize, after: pager.after });
      const conn = data.auditEvents;
      return h("div", null,
        table([
          { label: "时间", render: (e) => fmtDateTime(e.at), class: "nowrap" },
          { label: "人员", render: (e) => e.username || "—" },
          { label: "动作", render: (e) => pill(...(ACTIONS[e.action] || [e.action])) },
          { label: "接口 / 对象", render: (e) => h("span", null, e.operationName || "—", e.entity ? h("span", { class: "muted small" }, ` ${e.entity}${e.entityId ? ` #${e.entityId}` : ""}`) : null) },
          { label: "涉及孕妇", render: (e) => (e.patients.length ? `${e.patients.slice(0, 5).map((p) => p.name).join("、")}${e.patients.length > 5 ? ` 等 ${e.patients.length} 位` : ""}` : "—") },
          { label: "详情", render: (e) => h("span", { class: "small" }, detailText(e.detail)) },
          { label: "请求编号", render: (e) => h("span", { class: "mono small" }, e.requestId || "—") },
        ], conn.edges.map((e) => e.node), { caption: "审计事件", hideCaption: true, empty: "没有符合条件的审计事件。" }),
        pager.controls({ totalCount: conn.totalCount, pageInfo: conn.pageInfo, onChange: load, label: "审计事件分页" }));
    }, "正在查询审计日志…");
  }

  const form = h("form", { class: "card filters", role: "search", "aria-label": "审计日志筛选", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    for (const f of Object.values(fields)) f.clearError();
    problem.hidden = true;
    if (fields.from.value() && fields.to.value() && fields.from.value() > fields.to.value()) {
      fields.to.setError("结束日期早于开始日期，请调整");
      fields.to.input.focus();
      return;
    }
    pager.reset();
    load();
  } },
  Object.values(fields).map((f) => f.el), actions,
  h("div", { class: "actions" }, h("button", { type: "submit", class: "button" }, "查询")),
  problem);

  load();
  return h("div", null,
    h("div", { class: "page-head" }, h("div", null, h("h1", null, "审计日志"),
      h("p", { class: "muted" }, "谁在何时查看或修改了哪位孕妇的数据；审计日志只能查看，不能修改。"))),
    form,
    h("section", { class: "card", "aria-label": "审计事件" }, box));
}
