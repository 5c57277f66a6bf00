// Building DOM without innerHTML (values from the server are always text), and formatting.

const PROPS = new Set(["value", "checked", "disabled", "selected", "hidden", "indeterminate", "readOnly", "required", "multiple"]);

/**
 * h("button", { class: "button", onclick: fn, "aria-label": "…" }, "文字", child, [more])
 * Attributes named on* with a function become listeners; `for` is the label's target;
 * false / null / undefined attributes and children are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else if (key === "class") {
        el.className = value;
      } else if (key === "dataset") {
        Object.assign(el.dataset, value);
      } else if (key === "style" && typeof value === "object") {
        Object.assign(el.style, value);
      } else if (PROPS.has(key)) {
        el[key] = value;
      } else {
        el.setAttribute(key, value === true ? "" : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

let uid = 0;
/** A document-unique id for label/field pairs. */
export function uniqueId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

// The hospital is in Guangxi: times are shown in Beijing time whatever the browser's zone.
const TZ = "Asia/Shanghai";
const dateTimeFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
});
const shortFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
});

function parts(format, date) {
  const out = {};
  for (const p of format.formatToParts(date)) out[p.type] = p.value;
  return out;
}

export function fmtDateTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = parts(dateTimeFormat, d);
  return `${p.year}-${p.month}-${p.day} ${p.hour === "24" ? "00" : p.hour}:${p.minute}`;
}

export function fmtShort(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = parts(shortFormat, d);
  return `${p.month}-${p.day} ${p.hour === "24" ? "00" : p.hour}:${p.minute}`;
}

export function fmtDate(value) {
  return value ? String(value).slice(0, 10) : "—";
}

/** Today in Beijing time as YYYY-MM-DD (for date inputs). */
export function todayIso(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  const p = parts(dateTimeFormat, d);
  return `${p.year}-${p.month}-${p.day}`;
}

export function fmtNumber(value, digits) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value !== "number") return String(value);
  if (digits !== undefined) return value.toFixed(digits);
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
}

export function fmtPercent(value) {
  if (value === null || value === undefined) return "—";
  return `${(value * 100).toFixed(1)}%`;
}

/** Any JSON value as short readable text (for tables of JSON rows and parameter values). */
export function fmtValue(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? "是" : "否";
  if (typeof value === "number") return fmtNumber(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
