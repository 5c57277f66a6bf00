// 系统参数: typed parameters and workflow switches, one small form each. The browser
// checks type and range as you type; the server checks again and its message is shown
// beside the field. Changes take effect without a restart and are audited.

import { gql } from "../api.js";
import { h, replace, fmtDateTime, fmtValue } from "../dom.js";
import { errorBox, field, formError, notice, showUserErrors, spinner, toast } from "../ui.js";

const PARAMETERS = `
query SystemParameters {
  parameters { key label description valueType value defaultValue minimum maximum unit updatedAt updatedBy }
}`;
const SET = `
mutation SetParameter($input: SetParameterInput!) {
  setParameter(input: $input) {
    parameter { key value updatedAt updatedBy }
    userErrors { field message code }
  }
}`;

const GROUPS = [
  { title: "超声与 NT", test: (k) => k.startsWith("nt_") },
  { title: "电子病历（EMR）", test: (k) => k.startsWith("emr_") },
  { title: "桂妇儿推送", test: (k) => k.startsWith("push_") || k.startsWith("reconcile_") },
  { title: "巡检与备份", test: (k) => k.startsWith("inspection_") || k.startsWith("backup_") },
  { title: "其他", test: () => true },
];

const kindOf = (p) => {
  const t = String(p.valueType || "").toLowerCase();
  if (t.startsWith("int")) return "integer";
  if (t.startsWith("num") || t === "float" || t === "decimal") return "number";
  if (t.startsWith("bool")) return "boolean";
  return "string";
};

/** The client's check; null when fine, else what to do. The server checks again. */
export function checkValue(p, raw) {
  const kind = kindOf(p);
  const unit = p.unit ? ` ${p.unit}` : "";
  if (kind === "boolean" || kind === "string") return { value: raw, error: null };
  const text = String(raw).trim();
  if (text === "") return { error: "请填写数值" };
  const value = Number(text);
  if (!Number.isFinite(value)) return { error: "请填写数字" };
  if (kind === "integer" && !Number.isInteger(value)) return { error: "请填写整数" };
  if (p.minimum !== null && p.minimum !== undefined && value < p.minimum) return { error: `不能小于 ${p.minimum}${unit}（允许范围 ${range(p)}）` };
  if (p.maximum !== null && p.maximum !== undefined && value > p.maximum) return { error: `不能大于 ${p.maximum}${unit}（允许范围 ${range(p)}）` };
  return { value, error: null };
}

function range(p) {
  const unit = p.unit ? ` ${p.unit}` : "";
  const lo = p.minimum ?? "不限";
  const hi = p.maximum ?? "不限";
  return `${lo} – ${hi}${unit}`;
}

function parameterForm(p, readOnly) {
  const kind = kindOf(p);
  const hint = [p.description, `默认值 ${fmtValue(p.defaultValue)}${p.unit ? ` ${p.unit}` : ""}`,
    kind === "number" || kind === "integer" ? `允许范围 ${range(p)}` : null].filter(Boolean).join(" · ");
  const f = field({
    name: "value",
    label: p.label || p.key,
    kind: kind === "boolean" ? "checkbox" : kind,
    value: kind === "boolean" ? Boolean(p.value) : (p.value ?? ""),
    min: p.minimum, max: p.maximum,
    hint,
  });
  f.el.classList.add("wide");
  if (readOnly) f.input.disabled = true;
  const problem = formError();
  const meta = h("p", { class: "muted small" });
  const showMeta = () => replace(meta, h("span", { class: "mono" }, p.key),
    ` · 当前值 ${fmtValue(p.value)}${p.unit ? ` ${p.unit}` : ""} · 最近修改：${p.updatedAt ? `${fmtDateTime(p.updatedAt)} ${p.updatedBy || ""}` : "从未修改（使用默认值）"}`);
  showMeta();
  const save = h("button", { type: "submit", class: "button" }, "保存");
  const check = () => {
    const { error } = checkValue(p, f.value());
    f.setError(error);
    return !error;
  };
  if (kind === "number" || kind === "integer") f.input.addEventListener("input", check);

  async function submit(value) {
    save.disabled = true;
    save.textContent = "正在保存…";
    try {
      const data = await gql(SET, { input: { key: p.key, value } });
      const r = data.setParameter;
      if (r.userErrors.length) {
        showUserErrors({ value: f }, problem, r.userErrors);
        return;
      }
      Object.assign(p, r.parameter);
      toast(`已保存“${p.label || p.key}”，立即生效`, "ok");
      showMeta();
    } catch (error) {
      problem.textContent = error.message;
      problem.hidden = false;
    } finally {
      save.disabled = false;
      save.textContent = "保存";
    }
  }

  const form = h("form", { class: "param", novalidate: true, dataset: { key: p.key }, "aria-label": p.label || p.key, onsubmit: (e) => {
    e.preventDefault();
    problem.hidden = true;
    const { value, error } = checkValue(p, f.value());
    f.setError(error);
    if (error) { f.input.focus(); return; }
    submit(value);
  } },
  h("div", { class: "filters" }, f.el,
    readOnly ? null : h("div", { class: "actions" }, save,
      h("button", { type: "button", class: "button ghost", onclick: () => {
        if (kind === "boolean") f.input.checked = Boolean(p.defaultValue);
        else f.input.value = p.defaultValue ?? "";
        f.clearError();
        f.input.focus();
      } }, "填入默认值"))),
  problem, meta);
  return form;
}

export function render(ctx) {
  const readOnly = !ctx.viewer.roles.includes("admin");
  const box = h("div", null, spinner("正在读取系统参数…"));

  async function load() {
    replace(box, spinner("正在读取系统参数…"));
    try {
      const data = await gql(PARAMETERS);
      const left = [...data.parameters].sort((a, b) => a.key.localeCompare(b.key));
      const groups = [];
      for (const g of GROUPS) {
        const mine = left.filter((p) => g.test(p.key));
        mine.forEach((p) => left.splice(left.indexOf(p), 1));
        if (mine.length) groups.push({ ...g, params: mine });
      }
      replace(box, groups.map((g) => h("section", { class: "card", "aria-label": g.title },
        h("h2", null, g.title),
        h("div", { class: "stack" }, g.params.map((p) => parameterForm(p, readOnly))))));
    } catch (error) {
      replace(box, errorBox(error, load));
    }
  }

  load();
  return h("div", null,
    h("div", { class: "page-head" }, h("div", null, h("h1", null, "系统参数"),
      h("p", { class: "muted" }, "参数保存后数秒内在各服务进程生效，不需要重启；每次修改都记入审计日志。"))),
    readOnly ? notice("只读：修改系统参数需要管理员角色。", "info") : null,
    box);
}
