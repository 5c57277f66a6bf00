// 统计报表: reports are definitions stored as data. Pick one, fill its parameters, run it
// (table + chart), export CSV / XLSX / PDF through the download URL the server returns.

import { gql } from "../api.js";
import { h, replace, fmtNumber, fmtPercent, fmtValue } from "../dom.js";
import { barChart, lineChart } from "../chart.js";
import { setQuery } from "../router.js";
import { errorBox, field, formError, notice, progressBar, showUserErrors, spinner, table, toast } from "../ui.js";

const DEFINITIONS = `
query ReportDefinitions {
  reportDefinitions {
    id code name description version dataSourceLabel
    dimensions { key label description }
    measures { key label kind description }
    parameters { name label type defaultValue required choices { value label } minimum maximum systemParameter }
    problems { field message code }
  }
}`;

const RUN = `
query RunReport($code: String!, $parameters: JSON) {
  runReport(code: $code, parameters: $parameters) {
    columns { key label kind color }
    rows
    totals
    chart { kind x series split }
    parameters
    userErrors { field message code }
  }
}`;

const EXPORT = `
mutation ExportReport($input: ExportReportInput!) {
  exportReport(input: $input) { filename url mediaType size userErrors { field message code } }
}`;

const FORMATS = [
  { format: "CSV", label: "导出 CSV" },
  { format: "XLSX", label: "导出 Excel（XLSX）" },
  { format: "PDF", label: "导出 PDF" },
];

let definitionsCache = null;

async function definitions() {
  if (!definitionsCache) definitionsCache = gql(DEFINITIONS).then((d) => d.reportDefinitions).catch((e) => { definitionsCache = null; throw e; });
  return definitionsCache;
}

export function render(ctx) {
  definitionsCache = null;
  return ctx.params.code ? renderReport(ctx) : renderList(ctx);
}

function renderList() {
  const box = h("div", null, spinner("正在读取报表定义…"));
  const load = async () => {
    replace(box, spinner("正在读取报表定义…"));
    try {
      const defs = await definitions();
      replace(box, defs.length
        ? h("div", { class: "cards" }, defs.map((d) => h("a", { class: "card link-card", href: `/admin/reports/${encodeURIComponent(d.code)}` },
          h("h2", null, d.name), h("p", { class: "muted small" }, d.description || ""), h("p", { class: "small" }, `数据来源：${d.dataSourceLabel}`))))
        : notice("还没有报表定义。报表是存储在数据库中的定义，可由系统管理员通过接口 saveReportDefinition 添加。", "info"));
    } catch (error) {
      replace(box, errorBox(error, load));
    }
  };
  load();
  return h("div", null,
    h("div", { class: "page-head" }, h("div", null, h("h1", null, "统计报表"),
      h("p", { class: "muted" }, "报表由数据定义（指标、维度、筛选、日期范围、数据来源），新增或修改报表无需改程序。"))),
    box);
}

/** A form field for one report parameter. */
function parameterField(p, initial) {
  const type = String(p.type || "STRING").toUpperCase();
  const value = initial ?? p.defaultValue ?? "";
  const hint = [
    p.minimum !== null && p.minimum !== undefined ? `最小 ${p.minimum}` : null,
    p.maximum !== null && p.maximum !== undefined ? `最大 ${p.maximum}` : null,
    p.systemParameter ? `默认取系统参数 ${p.systemParameter}` : null,
    type === "DATE" && !p.required ? "留空表示不限" : null,
  ].filter(Boolean).join("，") || null;
  const common = { name: p.name, label: p.label || p.name, required: p.required, hint };
  if (type === "DATE") return field({ ...common, kind: "date", value });
  if (type === "INTEGER") return field({ ...common, kind: "integer", value, min: p.minimum, max: p.maximum });
  if (type === "NUMBER") return field({ ...common, kind: "number", value, min: p.minimum, max: p.maximum });
  if (type === "BOOLEAN") return field({ ...common, kind: "checkbox", value: value === true || value === "true" });
  if (type === "CHOICE") {
    return field({ ...common, kind: "select", value, options: [...(p.required ? [] : [{ value: "", label: "（不限）" }]), ...(p.choices || []).map((c) => ({ value: c.value, label: c.label }))] });
  }
  return field({ ...common, value });
}

function readParameters(defs, fields) {
  const out = {};
  const errors = [];
  for (const p of defs) {
    const f = fields[p.name];
    const type = String(p.type || "").toUpperCase();
    const raw = f.value();
    if (type === "BOOLEAN") { out[p.name] = raw; continue; }
    if (raw === "" || raw === null) {
      if (p.required) errors.push({ field: p.name, message: `请填写${p.label || p.name}` });
      continue;
    }
    if (type === "INTEGER" || type === "NUMBER") {
      const n = Number(raw);
      if (!Number.isFinite(n) || (type === "INTEGER" && !Number.isInteger(n))) { errors.push({ field: p.name, message: `${p.label}应为${type === "INTEGER" ? "整数" : "数字"}` }); continue; }
      out[p.name] = n;
    } else {
      out[p.name] = raw;
    }
  }
  return { values: out, errors };
}

function formatCell(value, kind) {
  if (value === null || value === undefined) return "—";
  if (kind === "RATE" && typeof value === "number") return fmtPercent(value);
  if (typeof value === "number") return fmtNumber(value);
  return fmtValue(value);
}

/** The chart a result asks for: x is the first dimension; `split` makes one series per value. */
export function chartOf(result, title) {
  const chart = result.chart;
  if (!chart || !result.rows.length) return null;
  const columns = Object.fromEntries(result.columns.map((c) => [c.key, c]));
  const percent = chart.series.every((k) => columns[k] && columns[k].kind === "RATE");
  const categories = [...new Set(result.rows.map((r) => fmtValue(r[chart.x])))];
  let series;
  if (chart.split) {
    const measure = chart.series[0];
    const groups = [...new Set(result.rows.map((r) => fmtValue(r[chart.split])))];
    series = groups.map((g) => ({
      name: g,
      values: categories.map((c) => {
        const row = result.rows.find((r) => fmtValue(r[chart.x]) === c && fmtValue(r[chart.split]) === g);
        return row && row[measure] !== null && row[measure] !== undefined ? Number(row[measure]) : null;
      }),
    }));
    title = `${title}：${columns[measure] ? columns[measure].label : measure}`;
  } else {
    series = chart.series.map((k) => ({
      name: columns[k] ? columns[k].label : k,
      color: columns[k] && columns[k].color ? columns[k].color : undefined,
      values: categories.map((c) => {
        const row = result.rows.find((r) => fmtValue(r[chart.x]) === c);
        return row && row[k] !== null && row[k] !== undefined ? Number(row[k]) : null;
      }),
    }));
  }
  if (chart.kind === "LINE") return lineChart({ title, categories, series, percent });
  return barChart({ title, categories, series, stacked: chart.kind === "STACKED", percent });
}

function resultTable(result, caption) {
  const columns = result.columns.map((c) => ({ label: c.label, class: c.kind === "DIMENSION" ? null : "num", render: (row) => formatCell(row[c.key], c.kind) }));
  const el = table(columns, result.rows, { caption, empty: "所选条件下没有数据。可以放宽日期范围后再运行。" });
  if (result.totals && result.rows.length) {
    const first = result.columns[0];
    el.querySelector("table").append(h("tfoot", null, h("tr", null, result.columns.map((c) =>
      h(c === first ? "th" : "td", { class: c.kind === "DIMENSION" ? null : "num", scope: c === first ? "row" : null },
        c === first ? "合计" : c.kind === "DIMENSION" ? "" : formatCell(result.totals[c.key], c.kind))))));
  }
  return el;
}

function renderReport(ctx) {
  const code = ctx.params.code;
  const root = h("div", null, spinner("正在读取报表定义…"));

  async function start() {
    try {
      const defs = await definitions();
      const def = defs.find((d) => d.code === code);
      if (!def) {
        replace(root, h("h1", null, "统计报表"), errorBox(new Error(`没有编码为“${code}”的报表。请回到报表列表选择。`)), h("a", { href: "/admin/reports", class: "button" }, "返回报表列表"));
        return;
      }
      build(def);
    } catch (error) {
      replace(root, h("h1", null, "统计报表"), errorBox(error, start));
    }
  }

  function build(def) {
    ctx.setTitle(def.name);
    const fields = {};
    for (const p of def.parameters) fields[p.name] = parameterField(p, ctx.query.get(p.name));
    const problem = formError();
    const resultBox = h("div", { "aria-live": "polite" });
    const exportBox = h("div", { "aria-live": "polite" });
    const runButton = h("button", { type: "submit", class: "button" }, "运行报表");

    const collect = () => {
      problem.hidden = true;
      const { values, errors } = readParameters(def.parameters, fields);
      showUserErrors(fields, problem, errors);
      return errors.length ? null : values;
    };

    async function run() {
      const values = collect();
      if (!values) return;
      setQuery(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)])));
      runButton.disabled = true;
      replace(resultBox, progressBar(null, "正在统计，请稍候…"));
      try {
        const data = await gql(RUN, { code, parameters: values });
        const result = data.runReport;
        if (result.userErrors.length) {
          replace(resultBox, notice("参数有误：请按字段旁的提示修正后重新运行。", "warn"));
          showUserErrors(fields, problem, result.userErrors);
          return;
        }
        replace(resultBox,
          chartOf(result, def.name),
          resultTable(result, `${def.name}（${result.rows.length} 行）`),
          h("p", { class: "muted small" }, `口径：${[...def.measures].map((m) => `${m.label}——${m.description}`).join("；")}`));
      } catch (error) {
        replace(resultBox, errorBox(error, run));
      } finally {
        runButton.disabled = false;
      }
    }

    async function exportAs(format, button) {
      const values = collect();
      if (!values) return;
      button.disabled = true;
      replace(exportBox, progressBar(null, `正在生成 ${format} 文件，请稍候…`));
      try {
        const data = await gql(EXPORT, { input: { code, parameters: values, format } });
        const r = data.exportReport;
        if (r.userErrors.length) { replace(exportBox); showUserErrors(fields, problem, r.userErrors); return; }
        const link = h("a", { href: r.url, download: r.filename, class: "button ok", dataset: { format } }, `下载 ${r.filename}`);
        replace(exportBox, notice(`文件已生成（${Math.max(1, Math.round(r.size / 1024))} KB）。下载链接几分钟内有效，过期后请重新导出。`, "ok"), link);
        link.click();
        toast(`已生成 ${r.filename}`, "ok");
      } catch (error) {
        replace(exportBox, errorBox(error, () => exportAs(format, button)));
      } finally {
        button.disabled = false;
      }
    }

    const exportButtons = FORMATS.map((f) => {
      const b = h("button", { type: "button", class: "button ghost", onclick: () => exportAs(f.format, b) }, f.label);
      return b;
    });

    replace(root,
      h("p", { class: "crumbs" }, h("a", { href: "/admin/reports" }, "统计报表"), ` › ${def.name}`),
      h("h1", null, def.name),
      def.description ? h("p", { class: "muted" }, def.description) : null,
      def.problems.length ? notice(`报表定义有问题，暂不能运行：${def.problems.map((p) => p.message).join("；")}。请管理员修正定义。`, "error") : null,
      h("section", { class: "card", "aria-label": "报表参数" },
        h("form", { novalidate: true, onsubmit: (e) => { e.preventDefault(); run(); } },
          def.parameters.length ? h("div", { class: "filters" }, def.parameters.map((p) => fields[p.name].el)) : h("p", { class: "muted" }, "这个报表没有参数。"),
          problem,
          h("div", { class: "actions" }, runButton, ...exportButtons)),
        exportBox),
      h("section", { class: "card", "aria-label": "报表结果" }, resultBox));
    run();
  }

  start();
  return root;
}


