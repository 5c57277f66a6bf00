// 数据字典: risk factors, LIS code → standard item mappings, platform code mappings.
// Every save is validated by the server (messages beside the fields), versioned and
// audited, and takes effect at once; each entry shows its revision history.

import { gql } from "../api.js";
import { h, replace, fmtDateTime, fmtValue } from "../dom.js";
import { navigate } from "../router.js";
import { RISK_COLORS, colorPill, errorBox, field, notice, formError, loadInto, modal, pageSlice, pill, showUserErrors, simplePager, spinner, table, tabs, toast } from "../ui.js";

const FACTORS = `
query RiskFactorDefinitions {
  riskFactorDefinitions(includeInactive: true) { code name color active category source updatedAt updatedBy version }
}`;
const SAVE_FACTOR = `
mutation SaveRiskFactorDefinition($input: SaveRiskFactorDefinitionInput!) {
  saveRiskFactorDefinition(input: $input) { riskFactorDefinition { code version } userErrors { field message code } }
}`;
const LAB_CODES = `
query LabCodeMappings {
  labCodeMappings { localCode itemCode itemName unit active version updatedAt updatedBy }
  labItemDefinitions { code name unit }
}`;
const SAVE_LAB_CODE = `
mutation SaveLabCodeMapping($input: SaveLabCodeMappingInput!) {
  saveLabCodeMapping(input: $input) { labCodeMapping { localCode version } userErrors { field message code } }
}`;
const PUSH_MAPPINGS = `
query PushMappings {
  pushMappings { version note createdBy createdAt document }
}`;
const SAVE_PUSH_MAPPING = `
mutation SavePushMapping($input: SavePushMappingInput!) {
  savePushMapping(input: $input) { mapping { version } userErrors { field message code } }
}`;
const CODE_SYSTEMS = { riskColor: "妊娠风险颜色", factorColor: "高危因素颜色", screeningItem: "传染病检测项目", screeningResult: "检测结果" };
const REVISIONS = `
query DictionaryRevisions($kind: String!, $key: String!) {
  dictionaryRevisions(kind: $kind, key: $key) { version changedAt changedBy before after }
}`;

const FACTOR_COLORS = ["YELLOW", "ORANGE", "RED", "PURPLE"];
const PAGE = 15;

const TABS = [
  { id: "risk-factors", label: "高危因素" },
  { id: "lab-codes", label: "检验项目映射（LIS）" },
  { id: "platform-codes", label: "平台代码映射（桂妇儿）" },
];

export function render(ctx) {
  const current = TABS.some((t) => t.id === ctx.params.tab) ? ctx.params.tab : "risk-factors";
  const { list, panel } = tabs(TABS, {
    selected: current,
    label: "字典类别",
    onSelect: (id, opts) => {
      navigate(`/admin/dictionary/${id}`);
      if (opts && opts.focus) requestAnimationFrame(() => document.getElementById(`tab-${id}`)?.focus());
    },
  });
  const views = { "risk-factors": riskFactors, "lab-codes": labCodes, "platform-codes": platformCodes };
  replace(panel, views[current](ctx));
  return h("div", null,
    h("div", { class: "page-head" }, h("div", null, h("h1", null, "数据字典"),
      h("p", { class: "muted" }, "修改保存后立即生效，不需要重启；每次修改都保留版本并记入审计日志。"))),
    h("div", { class: "card" }, list, panel));
}

/** Search box + client paging + table over an unpaged list. */
function listView({ query, rows: pick, columns, matches, caption, addLabel, onAdd, empty }) {
  const box = h("div");
  const search = field({ name: "search", label: "查找", placeholder: "编码或名称" });
  let all = [];
  let page = 0;
  const draw = () => {
    const text = search.value().trim().toLowerCase();
    const rows = text ? all.filter((r) => matches(r, text)) : all;
    const slice = pageSlice(rows, page, PAGE);
    page = slice.page;
    replace(box, table(columns, slice.rows, { caption, hideCaption: true, empty }),
      simplePager({ page: slice.page, pages: slice.pages, total: rows.length, onChange: (p) => { page = p; draw(); }, label: `${caption}分页` }));
  };
  search.input.addEventListener("input", () => { page = 0; draw(); });
  let loading = null;
  const reload = () => { loading = fetchAll(); return loading; };
  const fetchAll = async () => {
    replace(box, spinner("正在读取字典…"));
    try {
      all = pick(await gql(query));
      draw();
    } catch (error) {
      replace(box, errorBox(error, reload));
    }
  };
  reload();
  return {
    el: h("div", null,
      h("div", { class: "filters" }, search.el, addLabel ? h("div", { class: "actions" }, h("button", { type: "button", class: "button", onclick: onAdd }, addLabel)) : null),
      box),
    reload,
    /** Resolves once the list (and what the edit form needs with it) has arrived. */
    loaded: () => loading,
  };
}

const FIELD_LABELS = { name: "名称", color: "颜色", active: "启用", category: "分类", itemCode: "标准项目", localCode: "本地编码", code: "编码" };
const shown = (key, value) => (key === "color" && RISK_COLORS[value] ? RISK_COLORS[value].label : fmtValue(value));

/** The revision history of one entry, inside the edit dialog: what changed, from what to what. */
function revisions(kind, key) {
  const box = h("div");
  const change = (r) => {
    const keys = [...new Set([...Object.keys(r.before || {}), ...Object.keys(r.after || {})])];
    if (!Object.keys(r.before || {}).length) return h("span", null, "新建：", keys.map((k) => `${FIELD_LABELS[k] || k} ${shown(k, r.after[k])}`).join("，"));
    return h("span", null, keys.map((k) => h("div", null, `${FIELD_LABELS[k] || k}：`, h("span", { class: "diff-old" }, shown(k, r.before[k])), " → ", h("span", { class: "diff-new" }, shown(k, r.after[k])))));
  };
  loadInto(box, async () => {
    const data = await gql(REVISIONS, { kind, key });
    return table([
      { label: "版本", render: (r) => `v${r.version}` },
      { label: "时间", render: (r) => fmtDateTime(r.changedAt), class: "nowrap" },
      { label: "修改人", render: (r) => r.changedBy || "—" },
      { label: "修改内容", render: change },
    ], data.dictionaryRevisions, { caption: "修改历史", hideCaption: true, empty: "没有修改记录。" });
  }, "正在读取修改历史…");
  return box;
}

/** An edit dialog: fields, server userErrors beside them, history below; resolves true when saved. */
function editDialog({ title, fields, submit, history }) {
  return modal({
    title,
    wide: true,
    build: ({ done, cancel }) => {
      const problem = formError();
      const save = h("button", { type: "submit", class: "button" }, "保存");
      const form = h("form", { novalidate: true, onsubmit: async (e) => {
        e.preventDefault();
        for (const f of Object.values(fields)) f.clearError();
        problem.hidden = true;
        save.disabled = true;
        save.textContent = "正在保存…";
        try {
          const errors = await submit();
          if (errors.length) { showUserErrors(fields, problem, errors); return; }
          done(true);
        } catch (error) {
          problem.textContent = error.message;
          problem.hidden = false;
        } finally {
          save.disabled = false;
          save.textContent = "保存";
        }
      } },
      h("div", { class: "form-grid" }, Object.values(fields).map((f) => f.el)),
      problem,
      h("div", { class: "actions" }, save, h("button", { type: "button", class: "button ghost", onclick: cancel }, "取消")),
      history || null);
      return form;
    },
  });
}

const COLOR_LABELS = { YELLOW: "黄色（一般风险）", ORANGE: "橙色（较高风险）", RED: "红色（高风险）", PURPLE: "紫色（传染病）" };

function riskFactors() {
  const view = listView({
    query: FACTORS,
    rows: (d) => d.riskFactorDefinitions,
    matches: (r, t) => [r.code, r.name, r.category].some((v) => (v || "").toLowerCase().includes(t)),
    caption: "高危因素",
    addLabel: "新增高危因素",
    onAdd: () => edit(null),
    empty: "没有匹配的高危因素。",
    columns: [
      { label: "编码", key: "code", class: "mono nowrap" },
      { label: "名称", key: "name" },
      { label: "分类", render: (r) => r.category || "—" },
      { label: "颜色", render: (r) => colorPill(r.color) },
      { label: "状态", render: (r) => r.active ? pill("启用", "ok") : pill("停用", "off") },
      { label: "版本", render: (r) => `v${r.version}`, class: "num" },
      { label: "最后修改", render: (r) => `${fmtDateTime(r.updatedAt)} ${r.updatedBy || ""}`, class: "nowrap" },
      { label: "操作", render: (r) => h("button", { type: "button", class: "button small ghost", "aria-label": `编辑 ${r.code} ${r.name}`, onclick: () => edit(r) }, "编辑") },
    ],
  });

  async function edit(entry) {
    const isNew = !entry;
    const fields = {
      code: field({ name: "code", label: "编码", value: entry ? entry.code : "", required: true, readOnly: !isNew, hint: isNew ? "大写字母、数字、- 与 _，例如 Y-ANEMIA；保存后不能修改" : "编码不能修改" }),
      name: field({ name: "name", label: "名称", value: entry ? entry.name : "", required: true }),
      color: field({ name: "color", label: "颜色", kind: "select", value: entry ? entry.color : "YELLOW", options: Object.entries(COLOR_LABELS).map(([value, label]) => ({ value, label })) }),
      category: field({ name: "category", label: "分类", value: entry ? entry.category || "" : "", hint: "可不填" }),
      active: field({ name: "active", label: "启用", kind: "checkbox", value: entry ? entry.active : true, hint: "停用后不能再记录该因素，已记录的保留" }),
    };
    fields.name.el.classList.add("wide");
    let savedCode = null;
    const saved = await editDialog({
      title: isNew ? "新增高危因素" : `编辑高危因素 ${entry.code}`,
      fields,
      history: isNew ? null : h("div", null, h("h3", null, "修改历史"), revisions("risk_factor", entry.code)),
      submit: async () => {
        const local = [];
        if (!fields.code.value().trim()) local.push({ field: "code", message: "请填写编码" });
        if (!fields.name.value().trim()) local.push({ field: "name", message: "请填写名称" });
        if (local.length) return local;
        const data = await gql(SAVE_FACTOR, { input: {
          code: fields.code.value().trim(), name: fields.name.value().trim(), color: fields.color.value(),
          category: fields.category.value().trim() || null, active: fields.active.value(), isNew,
        } });
        const r = data.saveRiskFactorDefinition;
        if (r.riskFactorDefinition) savedCode = `${r.riskFactorDefinition.code}（v${r.riskFactorDefinition.version}）`;
        return r.userErrors;
      },
    });
    if (saved) {
      toast(`已保存高危因素 ${savedCode}，立即生效`, "ok");
      view.reload();
    }
  }

  return view.el;
}

function labCodes() {
  let items = [];
  const view = listView({
    query: LAB_CODES,
    rows: (d) => { items = d.labItemDefinitions; return d.labCodeMappings; },
    matches: (r, t) => [r.localCode, r.itemCode, r.itemName].some((v) => (v || "").toLowerCase().includes(t)),
    caption: "检验项目映射",
    addLabel: "新增映射",
    onAdd: () => edit(null),
    empty: "没有匹配的映射。",
    columns: [
      { label: "检验系统本地编码", key: "localCode", class: "mono" },
      { label: "标准项目编码", key: "itemCode", class: "mono" },
      { label: "标准项目名称", render: (r) => r.itemName || "—" },
      { label: "单位", render: (r) => r.unit || "—" },
      { label: "状态", render: (r) => r.active ? pill("启用", "ok") : pill("停用", "off") },
      { label: "版本", render: (r) => `v${r.version}`, class: "num" },
      { label: "最后修改", render: (r) => `${fmtDateTime(r.updatedAt)} ${r.updatedBy || ""}`, class: "nowrap" },
      { label: "操作", render: (r) => h("button", { type: "button", class: "button small ghost", "aria-label": `编辑映射 ${r.localCode}`, onclick: () => edit(r) }, "编辑") },
    ],
  });

  async function edit(entry) {
    await view.loaded();
    const fields = {
      localCode: field({ name: "localCode", label: "检验系统本地编码", value: entry ? entry.localCode : "", required: true, readOnly: Boolean(entry), hint: "检验系统 OBX-3 中的项目编码（不区分大小写）" }),
      itemCode: field({ name: "itemCode", label: "标准项目", kind: "select", value: entry ? entry.itemCode : "", required: true,
        options: [{ value: "", label: "请选择标准项目" }, ...items.map((i) => ({ value: i.code, label: `${i.code} ${i.name}${i.unit ? `（${i.unit}）` : ""}` }))],
        hint: "此后收到的检验结果按新对照归入该标准项目" }),
    };
    const saved = await editDialog({
      title: entry ? `编辑映射 ${entry.localCode}` : "新增检验项目映射",
      fields,
      history: entry ? h("div", null, h("h3", null, "修改历史"), revisions("lis_code", entry.localCode)) : null,
      submit: async () => {
        const local = [];
        if (!fields.localCode.value().trim()) local.push({ field: "localCode", message: "请填写检验系统本地编码" });
        if (!fields.itemCode.value()) local.push({ field: "itemCode", message: "请选择标准项目" });
        if (local.length) return local;
        const data = await gql(SAVE_LAB_CODE, { input: { localCode: fields.localCode.value().trim(), itemCode: fields.itemCode.value() } });
        return data.saveLabCodeMapping.userErrors;
      },
    });
    if (saved) {
      toast(`已保存映射 ${fields.localCode.value().trim()}，立即生效`, "ok");
      view.reload();
    }
  }
  return view.el;
}

/** Platform codes live in the push mapping document; a change saves a new mapping version. */
function platformCodes() {
  let latest = null;
  let versions = [];
  const historyBox = h("div");
  const view = listView({
    query: PUSH_MAPPINGS,
    rows: (d) => {
      versions = d.pushMappings;
      latest = versions[0] || null;
      drawHistory();
      const codes = (latest && latest.document.codes) || {};
      return Object.entries(codes).flatMap(([system, map]) => Object.entries(map).map(([localCode, platformCode]) => ({ system, localCode, platformCode })));
    },
    matches: (r, t) => [r.system, CODE_SYSTEMS[r.system], r.localCode, r.platformCode].some((v) => (v || "").toLowerCase().includes(t)),
    caption: "平台代码映射",
    empty: "没有匹配的代码。",
    columns: [
      { label: "代码表", render: (r) => h("span", null, CODE_SYSTEMS[r.system] || r.system, h("span", { class: "muted small mono" }, ` ${r.system}`)) },
      { label: "本系统代码", key: "localCode", class: "mono" },
      { label: "平台代码", key: "platformCode", class: "mono" },
      { label: "操作", render: (r) => h("button", { type: "button", class: "button small ghost", "aria-label": `编辑代码 ${r.system} ${r.localCode}`, onclick: () => edit(r) }, "编辑") },
    ],
  });

  function drawHistory() {
    replace(historyBox, table([
      { label: "版本", render: (m) => `v${m.version}${m === latest ? "（生效）" : ""}` },
      { label: "时间", render: (m) => fmtDateTime(m.createdAt), class: "nowrap" },
      { label: "修改人", render: (m) => m.createdBy || "—" },
      { label: "说明", render: (m) => m.note || "—" },
    ], versions, { caption: "推送映射的版本", hideCaption: true, empty: "没有映射版本。" }));
  }

  async function edit(entry) {
    await view.loaded();
    if (!latest) { toast("还没有推送映射，无法修改代码", "error"); return; }
    const systems = Object.keys(latest.document.codes || {});
    const fields = {
      system: field({ name: "system", label: "代码表", kind: "select", value: entry ? entry.system : systems[0], options: systems.map((sys) => ({ value: sys, label: CODE_SYSTEMS[sys] || sys })) }),
      localCode: field({ name: "localCode", label: "本系统代码", value: entry ? entry.localCode : "", required: true, readOnly: Boolean(entry) }),
      platformCode: field({ name: "platformCode", label: "平台代码", value: entry ? entry.platformCode : "", required: true }),
      note: field({ name: "note", label: "修改说明", hint: "记入映射版本，便于日后查对" }),
    };
    if (entry) fields.system.input.disabled = true;
    fields.note.el.classList.add("wide");
    const saved = await editDialog({
      title: entry ? `编辑平台代码 ${CODE_SYSTEMS[entry.system] || entry.system} / ${entry.localCode}` : "新增平台代码",
      fields,
      submit: async () => {
        const local = [];
        if (!fields.localCode.value().trim()) local.push({ field: "localCode", message: "请填写本系统代码" });
        if (!fields.platformCode.value().trim()) local.push({ field: "platformCode", message: "请填写平台代码" });
        if (local.length) return local;
        const system = fields.system.value();
        const document = JSON.parse(JSON.stringify(latest.document));
        document.codes[system] = { ...document.codes[system], [fields.localCode.value().trim()]: fields.platformCode.value().trim() };
        const note = fields.note.value().trim() || `${CODE_SYSTEMS[system] || system}：${fields.localCode.value().trim()} → ${fields.platformCode.value().trim()}`;
        const data = await gql(SAVE_PUSH_MAPPING, { input: { document, note } });
        return data.savePushMapping.userErrors;
      },
    });
    if (saved) {
      toast("已保存为新的推送映射版本，此后的修改按新代码推送", "ok");
      view.reload();
    }
  }

  return h("div", null,
    notice("平台代码映射是推送映射的一部分：本系统的每个代码都须对应一个平台代码；每次保存生成新的映射版本，对之后的修改生效；已推送的记录可在推送监控中重新推送。", "info"),
    view.el,
    h("h3", null, "映射版本"),
    historyBox);
}
