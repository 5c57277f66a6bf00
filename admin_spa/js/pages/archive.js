// 归档查询: search archived pregnancies; each result opens the archived record read-only.

import { gql } from "../api.js";
import { h, replace, fmtDate, fmtDateTime } from "../dom.js";
import { navigate, setQuery } from "../router.js";
import { CursorPager, colorPill, errorBox, field, formError, spinner, table } from "../ui.js";

export const ARCHIVE_SEARCH = `
query ArchiveSearch($filter: ArchiveSearchInput!, $first: Int, $after: String) {
  archiveSearch(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id handbookNo bookingDate deliveredOn archivedAt archivedBy riskColor infectious status
        patient { id name nameInitials residentId phone }
      }
    }
  }
}`;

const FILTERS = ["text", "deliveredFrom", "deliveredTo", "archivedFrom", "archivedTo"];

export function render(ctx) {
  const q = ctx.query;
  const fields = {
    text: field({ name: "text", label: "关键字", value: q.get("text") || "", hint: "姓名、拼音首字母（如 WXM）、身份证号、电话或手册编号", placeholder: "例如：王秀梅 / WXM / 4501…" }),
    deliveredFrom: field({ name: "deliveredFrom", label: "分娩日期从", kind: "date", value: q.get("deliveredFrom") || "" }),
    deliveredTo: field({ name: "deliveredTo", label: "分娩日期至", kind: "date", value: q.get("deliveredTo") || "" }),
    archivedFrom: field({ name: "archivedFrom", label: "归档日期从", kind: "date", value: q.get("archivedFrom") || "" }),
    archivedTo: field({ name: "archivedTo", label: "归档日期至", kind: "date", value: q.get("archivedTo") || "" }),
  };
  fields.text.el.classList.add("wide");
  const problem = formError();
  const results = h("div", { "aria-live": "polite" });
  const pager = new CursorPager(20);
  let controller = null;

  const filter = () => {
    const out = {};
    for (const key of FILTERS) {
      const v = fields[key].value().trim();
      if (v) out[key] = v;
    }
    return out;
  };

  const check = () => {
    for (const f of Object.values(fields)) f.clearError();
    problem.hidden = true;
    const f = filter();
    let ok = true;
    for (const [from, to, label] of [["deliveredFrom", "deliveredTo", "分娩日期"], ["archivedFrom", "archivedTo", "归档日期"]]) {
      if (f[from] && f[to] && f[from] > f[to]) {
        fields[to].setError(`${label}的结束日期早于开始日期，请调整后再查询`);
        ok = false;
      }
    }
    return ok;
  };

  async function load() {
    if (controller) controller.abort();
    controller = new AbortController();
    const f = filter();
    setQuery(f);
    replace(results, spinner("正在查询归档档案…"));
    try {
      const data = await gql(ARCHIVE_SEARCH, { filter: f, first: pager.pageSize, after: pager.after }, { signal: controller.signal });
      showResults(data.archiveSearch);
    } catch (error) {
      if (error.name === "AbortError") return;
      replace(results, errorBox(error, load));
    }
  }

  function showResults(conn) {
    const rows = conn.edges.map((e) => e.node);
    replace(results,
      table([
        { label: "姓名", render: (p) => h("span", null, p.patient.name, h("span", { class: "muted small" }, ` ${p.patient.nameInitials}`)), class: "nowrap" },
        { label: "身份证号", render: (p) => h("span", { class: "mono" }, p.patient.residentId) },
        { label: "电话", render: (p) => p.patient.phone || "—" },
        { label: "手册编号", render: (p) => p.handbookNo || "—" },
        { label: "建档日期", render: (p) => fmtDate(p.bookingDate), class: "nowrap" },
        { label: "分娩日期", render: (p) => fmtDate(p.deliveredOn), class: "nowrap" },
        { label: "归档时间", render: (p) => h("span", null, fmtDateTime(p.archivedAt), p.archivedBy ? h("span", { class: "muted small" }, ` ${p.archivedBy}`) : null), class: "nowrap" },
        { label: "风险", render: (p) => h("span", null, colorPill(p.riskColor), p.infectious ? [" ", colorPill("PURPLE")] : null) },
        { label: "操作", render: (p) => h("button", {
          type: "button",
          class: "button small",
          "aria-label": `再次查询 / 查看归档资料：${p.patient.name}`,
          onclick: () => navigate(`/admin/archive/${encodeURIComponent(p.id)}`),
        }, "再次查询 / 查看归档资料") },
      ], rows, { caption: "查询结果", hideCaption: true, empty: "没有符合条件的归档档案。可减少条件，或只输入姓名的一部分、拼音首字母后再查询。" }),
      pager.controls({ totalCount: conn.totalCount, pageInfo: conn.pageInfo, onChange: load, label: "查询结果分页", cap: 1000 }),
    );
  }

  const form = h("form", { class: "card filters", role: "search", "aria-label": "归档档案查询", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    if (!check()) return;
    pager.reset();
    load();
  } },
  fields.text.el, fields.deliveredFrom.el, fields.deliveredTo.el, fields.archivedFrom.el, fields.archivedTo.el,
  h("div", { class: "actions" },
    h("button", { type: "submit", class: "button" }, "查询"),
    h("button", { type: "button", class: "button ghost", onclick: () => {
      for (const f of Object.values(fields)) { f.input.value = ""; f.clearError(); }
      pager.reset();
      load();
      fields.text.input.focus();
    } }, "清空条件")),
  problem);

  ctx.onLeave(() => controller && controller.abort());
  load();
  return h("div", null,
    h("div", { class: "page-head" }, h("div", null, h("h1", null, "归档查询"),
      h("p", { class: "muted" }, "已归档的孕产档案只读；需要修改时请“重新打开档案”（须填写原因）或提交数据更正申请。"))),
    form,
    h("section", { class: "card", "aria-label": "查询结果" }, results));
}
