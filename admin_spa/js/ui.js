// Small building blocks shared by the pages: fields with labels and error messages,
// tables, cursor paging, spinners and progress bars, dialogs, toasts, tabs.

import { h, clear, replace, uniqueId, fmtValue } from "./dom.js";

export function spinner(text = "正在加载…") {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spin", "aria-hidden": "true" }), text);
}

/** A progress bar with its text; `fraction` null means "busy, unknown amount". */
export function progressBar(fraction, text) {
  const known = typeof fraction === "number";
  const pct = known ? Math.round(Math.max(0, Math.min(1, fraction)) * 100) : null;
  return h(
    "div",
    { class: "progress-wrap", role: "status" },
    h(
      "div",
      {
        class: known ? "progress" : "progress indeterminate",
        role: "progressbar",
        "aria-valuemin": "0",
        "aria-valuemax": "100",
        "aria-valuenow": known ? String(pct) : null,
        "aria-label": text,
      },
      h("div", { class: "progress-fill", style: { width: known ? `${pct}%` : "30%" } }),
    ),
    h("span", { class: "progress-text" }, known ? `${text}（${pct}%）` : text),
  );
}

/** An error box that says what happened and offers a retry. */
export function errorBox(error, retry) {
  const message = error && error.message ? error.message : String(error);
  return h(
    "div",
    { class: "error-box", role: "alert" },
    h("p", null, message),
    error && error.requestId ? h("p", { class: "muted small" }, `请求编号：${error.requestId}`) : null,
    retry ? h("button", { type: "button", class: "button", onclick: retry }, "重试") : null,
  );
}

export function notice(text, kind = "info") {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** Toasts: a short confirmation after an action (announced by screen readers). */
export function toast(text, kind = "ok") {
  const region = document.getElementById("toasts");
  if (!region) return;
  const item = h("div", { class: `toast ${kind}` }, text);
  region.append(item);
  setTimeout(() => item.remove(), 5000);
}

/**
 * A labelled form field. kind: text | number | integer | date | datetime | select | checkbox | textarea | password.
 * Returns { el, input, setError(message), clearError(), value() }.
 * `name` is the GraphQL input field name, used to place server userErrors.
 */
export function field({ name, label, kind = "text", value = "", hint, options, required, min, max, step, placeholder, readOnly, autocomplete, rows }) {
  const id = uniqueId(name || "f");
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  let input;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ");
  const common = { id, name, required, readOnly, "aria-describedby": describedBy, autocomplete };
  if (kind === "select") {
    input = h("select", common, (options || []).map((o) => h("option", { value: o.value, selected: String(o.value) === String(value ?? "") }, o.label)));
  } else if (kind === "checkbox") {
    input = h("input", { ...common, type: "checkbox", checked: Boolean(value) });
  } else if (kind === "textarea") {
    input = h("textarea", { ...common, rows: rows || 3, placeholder }, value ?? "");
  } else {
    const type = { number: "number", integer: "number", date: "date", datetime: "datetime-local", password: "password" }[kind] || "text";
    input = h("input", {
      ...common,
      type,
      value: value ?? "",
      min: min ?? null,
      max: max ?? null,
      step: kind === "integer" ? "1" : (step ?? (kind === "number" ? "any" : null)),
      placeholder,
      inputmode: kind === "integer" ? "numeric" : kind === "number" ? "decimal" : null,
    });
  }
  const error = h("p", { id: errorId, class: "field-error", hidden: true });
  const labelEl = h("label", { for: id }, label, required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null);
  const el = h(
    "div",
    { class: kind === "checkbox" ? "field checkbox" : "field", dataset: { field: name || "" } },
    kind === "checkbox" ? [input, labelEl] : [labelEl, input],
    hint ? h("p", { id: hintId, class: "hint" }, hint) : null,
    error,
  );
  return {
    el,
    input,
    setError(message) {
      error.textContent = message;
      error.hidden = !message;
      input.setAttribute("aria-invalid", message ? "true" : "false");
    },
    clearError() {
      error.textContent = "";
      error.hidden = true;
      input.removeAttribute("aria-invalid");
    },
    value() {
      return kind === "checkbox" ? input.checked : input.value;
    },
  };
}

/**
 * Put server userErrors next to their fields (matched by the last part of `field`);
 * the rest go to `formError`. Focuses the first field in error.
 */
export function showUserErrors(fields, formError, userErrors) {
  for (const f of Object.values(fields)) f.clearError();
  const loose = [];
  let first = null;
  for (const err of userErrors) {
    const key = String(err.field || "").split(".").pop();
    const target = fields[key];
    if (target) {
      target.setError(err.message);
      first = first || target;
    } else {
      loose.push(err.message);
    }
  }
  if (formError) {
    formError.textContent = loose.join("；");
    formError.hidden = loose.length === 0;
  }
  if (first) first.input.focus();
  else if (loose.length && formError) formError.focus();
}

export function formError() {
  return h("p", { class: "form-error", role: "alert", tabindex: "-1", hidden: true });
}

/**
 * A data table. columns: [{ label, key | render(row), class, sr }]; rows: array.
 * Always has a caption (visually hidden when `hideCaption`).
 */
export function table(columns, rows, { caption, empty = "没有记录", hideCaption = false, rowAttrs } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "data" },
      caption ? h("caption", { class: hideCaption ? "sr-only" : null }, caption) : null,
      h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.class || null }, c.label)))),
      h(
        "tbody",
        null,
        rows.map((row) =>
          h(
            "tr",
            rowAttrs ? rowAttrs(row) : null,
            columns.map((c) => h("td", { class: c.class || null }, c.render ? c.render(row) : fmtValue(row[c.key]))),
          ),
        ),
      ),
    ),
  );
}

/**
 * Cursor paging over a Relay connection: keeps the cursors of earlier pages so that
 * "上一页" works. `load(after)` fetches a page.
 */
export class CursorPager {
  constructor(pageSize = 20) {
    this.pageSize = pageSize;
    this.reset();
  }

  reset() {
    this.afters = [null];
    this.index = 0;
  }

  get after() {
    return this.afters[this.index];
  }

  next(endCursor) {
    this.afters = this.afters.slice(0, this.index + 1);
    this.afters.push(endCursor);
    this.index += 1;
  }

  previous() {
    if (this.index > 0) this.index -= 1;
  }

  /** The pager bar: "共 N 条 · 第 k / m 页" with previous / next buttons. */
  controls({ totalCount, pageInfo, onChange, label = "分页", cap = null }) {
    // A count past `cap` is not exact (the server stops counting there).
    const known = totalCount !== undefined && totalCount !== null && !(cap && totalCount > cap);
    const pages = known ? Math.max(1, Math.ceil(totalCount / this.pageSize)) : null;
    const info = known ? `共 ${totalCount} 条 · 第 ${this.index + 1} / ${pages} 页`
      : cap && totalCount > cap ? `超过 ${cap} 条 · 第 ${this.index + 1} 页（可增加条件缩小范围）` : `第 ${this.index + 1} 页`;
    return h("nav", { class: "pager", "aria-label": label },
      h("span", { class: "pager-info" }, info),
      h("button", { type: "button", class: "button ghost", disabled: this.index === 0, onclick: () => { this.previous(); onChange(); } }, "‹ 上一页"),
      h("button", { type: "button", class: "button ghost", disabled: !pageInfo.hasNextPage, onclick: () => { this.next(pageInfo.endCursor); onChange(); } }, "下一页 ›"));
  }
}

/** Client-side paging for short unpaged lists (dictionary tables). */
export function pageSlice(rows, page, size) {
  const pages = Math.max(1, Math.ceil(rows.length / size));
  const current = Math.min(Math.max(page, 0), pages - 1);
  return { rows: rows.slice(current * size, current * size + size), page: current, pages };
}

export function simplePager({ page, pages, total, onChange, label = "分页" }) {
  return h("nav", { class: "pager", "aria-label": label },
    h("span", { class: "pager-info" }, `共 ${total} 条 · 第 ${page + 1} / ${pages} 页`),
    h("button", { type: "button", class: "button ghost", disabled: page === 0, onclick: () => onChange(page - 1) }, "‹ 上一页"),
    h("button", { type: "button", class: "button ghost", disabled: page >= pages - 1, onclick: () => onChange(page + 1) }, "下一页 ›"));
}

/**
 * A modal dialog (native <dialog>: focus stays inside, Esc cancels).
 * `build(dialogApi)` returns the body; resolves with what `done(value)` gets, or null on cancel.
 */
export function modal({ title, build, wide = false }) {
  return new Promise((resolve) => {
    const titleId = uniqueId("dlg");
    const opener = document.activeElement;
    const dlg = h("dialog", { class: wide ? "modal wide" : "modal", "aria-labelledby": titleId });
    let settled = false;
    const finish = (value) => {
      if (settled) return;
      settled = true;
      dlg.close();
      dlg.remove();
      if (opener && opener.focus) opener.focus();
      resolve(value);
    };
    dlg.addEventListener("cancel", (e) => { e.preventDefault(); finish(null); });
    const body = build({ done: finish, cancel: () => finish(null) });
    dlg.append(h("h2", { id: titleId }, title), body);
    document.body.append(dlg);
    dlg.showModal();
    const focusable = dlg.querySelector("input:not([readonly]):not([disabled]), textarea, select:not([disabled])");
    if (focusable) focusable.focus();
  });
}

/** Ask for confirmation; resolves true/false. */
export function confirmDialog({ title, message, confirmLabel = "确定", danger = false }) {
  return modal({
    title,
    build: ({ done, cancel }) => h("div", null,
      h("p", null, message),
      h("div", { class: "actions" },
        h("button", { type: "button", class: danger ? "button danger" : "button", onclick: () => done(true) }, confirmLabel),
        h("button", { type: "button", class: "button ghost", onclick: cancel }, "取消"))),
  }).then((v) => v === true);
}

/** Ask for a required reason; resolves the text or null when cancelled. */
export function reasonDialog({ title, message, label = "原因", confirmLabel = "确定", danger = false }) {
  return modal({
    title,
    build: ({ done, cancel }) => {
      const reason = field({ name: "reason", label, kind: "textarea", required: true, hint: "必填，将记入审计日志" });
      const form = h("form", { novalidate: true, onsubmit: (e) => {
        e.preventDefault();
        const text = reason.value().trim();
        if (!text) { reason.setError("请填写原因后再提交"); reason.input.focus(); return; }
        done(text);
      } },
      message ? h("p", null, message) : null,
      reason.el,
      h("div", { class: "actions" },
        h("button", { type: "submit", class: danger ? "button danger" : "button" }, confirmLabel),
        h("button", { type: "button", class: "button ghost", onclick: cancel }, "取消")));
      return form;
    },
  });
}

/** Accessible tabs (arrow keys move between them). tabs: [{ id, label, render() }]. */
export function tabs(items, { selected, onSelect, label }) {
  const list = h("div", { class: "tabs", role: "tablist", "aria-label": label });
  const panel = h("div", { class: "tab-panel", role: "tabpanel", tabindex: "0" });
  const buttons = items.map((item) => h("button", {
    type: "button",
    role: "tab",
    id: `tab-${item.id}`,
    "aria-selected": item.id === selected ? "true" : "false",
    tabindex: item.id === selected ? "0" : "-1",
    onclick: () => onSelect(item.id),
    onkeydown: (e) => {
      const i = items.findIndex((t) => t.id === item.id);
      let next = null;
      if (e.key === "ArrowRight") next = items[(i + 1) % items.length];
      if (e.key === "ArrowLeft") next = items[(i - 1 + items.length) % items.length];
      if (next) { e.preventDefault(); onSelect(next.id, { focus: true }); }
    },
  }, item.label));
  list.append(...buttons);
  panel.setAttribute("aria-labelledby", `tab-${selected}`);
  return { list, panel };
}

/** A status pill with a Chinese label. */
export function pill(text, kind = "neutral") {
  return h("span", { class: `pill ${kind}` }, text);
}

export const RISK_COLORS = {
  GREEN: { label: "绿色", css: "green" },
  YELLOW: { label: "黄色", css: "yellow" },
  ORANGE: { label: "橙色", css: "orange" },
  RED: { label: "红色", css: "red" },
  PURPLE: { label: "紫色", css: "purple" },
};

export function colorPill(color) {
  const c = RISK_COLORS[color];
  return c ? h("span", { class: `swatch ${c.css}` }, c.label) : h("span", null, color || "—");
}

/** A section with a heading; returns { el, body }. */
export function section(title, ...children) {
  const id = uniqueId("sec");
  const body = h("div", { class: "section-body" }, children);
  return { el: h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), body), body };
}

/** Replace `target` with a spinner while `work()` runs, then with its result or an error + retry. */
export async function loadInto(target, work, text = "正在加载…") {
  replace(target, spinner(text));
  try {
    const content = await work();
    replace(target, content);
  } catch (error) {
    if (error && error.name === "AbortError") return;
    replace(target, errorBox(error, () => loadInto(target, work, text)));
  }
}

export { clear };
