// 数据更正: request the correction of a stored value; another person with the approver
// role approves (the change is applied in one transaction and re-pushed) or rejects.
// A requester never approves their own request — the server refuses it, and the page
// does not offer it.

import { gql } from "../api.js";
import { h, replace, fmtDate, fmtDateTime } from "../dom.js";
import { navigate, setQuery } from "../router.js";
import { CursorPager, confirmDialog, errorBox, field, formError, loadInto, notice, pill, reasonDialog, showUserErrors, spinner, table, toast } from "../ui.js";

const FIELDS = `query CorrectableFields { correctableFields { targetType targetLabel field label valueType unit required } }`;

const LIST = `
query Corrections($filter: CorrectionFilter, $first: Int, $after: String) {
  corrections(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id targetId targetType targetLabel field fieldLabel valueType oldValue newValue currentValue targetExists reason status
      requestedBy requestedAt decidedBy decidedAt decisionReason appliedBefore appliedAfter
    } }
  }
}`;

const REQUEST = `
mutation RequestCorrection($input: RequestCorrectionInput!) {
  requestCorrection(input: $input) { correction { id status } userErrors { field message code } }
}`;
const APPROVE = `
mutation ApproveCorrection($input: ApproveCorrectionInput!) {
  approveCorrection(input: $input) { correction { id status } userErrors { field message code } }
}`;
const REJECT = `
mutation RejectCorrection($input: RejectCorrectionInput!) {
  rejectCorrection(input: $input) { correction { id status } userErrors { field message code } }
}`;

const PATIENTS = `
query CorrectionPatients($search: String!) {
  patients(search: $search, first: 10) { edges { node { id name nameInitials residentId } } }
}`;

const TARGETS = `
query CorrectionTargets($id: ID!) {
  node(id: $id) {
    ... on Patient {
      id name
      pregnancies {
        id bookingDate handbookNo status
        visits { id visitDate gestationalAge { text } }
        riskFactors { id code name }
        ultrasoundExams { id examDate ntMm }
      }
      labResults(first: 50) { edges { node { id itemName reportedAt valueText } } }
    }
  }
}`;

const TARGET_KIND = `query CorrectionTarget($id: ID!) { node(id: $id) { __typename id } }`;

export const STATUS = {
  PENDING: ["待审核", "warn"],
  APPROVED: ["已批准", "ok"],
  REJECTED: ["已驳回", "off"],
};

const TYPE_LABELS = {
  Patient: "孕妇信息", Pregnancy: "孕产档案", PrenatalVisit: "产前检查", RiskFactor: "高危因素",
  LabResult: "检验结果", UltrasoundExam: "超声检查",
  PATIENT: "孕妇信息", PREGNANCY: "孕产档案", PRENATAL_VISIT: "产前检查", VISIT: "产前检查", RISK_FACTOR: "高危因素",
  LAB_RESULT: "检验结果", ULTRASOUND_EXAM: "超声检查",
};
// The GraphQL type of a target and the names the server may use for it.
const SAME_TYPE = {
  Patient: ["Patient", "PATIENT"], Pregnancy: ["Pregnancy", "PREGNANCY"],
  PrenatalVisit: ["PrenatalVisit", "PRENATAL_VISIT", "VISIT"], RiskFactor: ["RiskFactor", "RISK_FACTOR"],
  LabResult: ["LabResult", "LAB_RESULT"], UltrasoundExam: ["UltrasoundExam", "ULTRASOUND_EXAM"],
};

const isApprover = (viewer) => viewer.permissions.includes("correction:approve") || viewer.roles.includes("approver");

export function render(ctx) {
  return ctx.detail ? renderRequest(ctx) : renderList(ctx);
}

function renderList(ctx) {
  const q = ctx.query;
  const fStatus = field({ name: "status", label: "状态", kind: "select", value: q.get("status") ?? (isApprover(ctx.viewer) ? "PENDING" : ""),
    options: [{ value: "", label: "全部" }, ...Object.entries(STATUS).map(([value, [label]]) => ({ value, label }))] });
  const fBy = field({ name: "requestedBy", label: "申请人", value: q.get("requestedBy") || "", placeholder: "用户名" });
  const fType = field({ name: "targetType", label: "记录类型", kind: "select", value: q.get("targetType") || "",
    options: [{ value: "", label: "全部" }, ...Object.keys(SAME_TYPE).filter((t) => t !== "UltrasoundExam").map((t) => ({ value: t, label: TYPE_LABELS[t] }))] });
  const box = h("div", { "aria-live": "polite" });
  const pager = new CursorPager(20);

  const filter = () => {
    const f = {};
    if (fStatus.value()) f.status = fStatus.value();
    if (fBy.value().trim()) f.requestedBy = fBy.value().trim();
    if (fType.value()) f.targetType = fType.value();
    return f;
  };

  function load() {
    setQuery({ status: fStatus.value(), requestedBy: fBy.value().trim(), targetType: fType.value() });
    return loadInto(box, async () => {
      const data = await gql(LIST, { filter: filter(), first: pager.pageSize, after: pager.after });
      const conn = data.corrections;
      return h("div", null,
        table([
          { label: "申请时间", render: (c) => fmtDateTime(c.requestedAt), class: "nowrap" },
          { label: "记录", key: "targetLabel" },
          { label: "字段", render: (c) => c.fieldLabel || c.field },
          { label: "更正", render: (c) => h("span", null, h("span", { class: "diff-old" }, c.oldValue ?? "（空）"), " → ", h("span", { class: "diff-new" }, c.newValue ?? "（空）"),
            c.status === "PENDING" && !c.targetExists ? h("div", { class: "field-error" }, "该记录已不存在，只能驳回") : null,
            c.status === "PENDING" && c.targetExists && c.currentValue !== c.oldValue ? h("div", { class: "field-error" }, `申请后该值已变为“${c.currentValue ?? "（空）"}”，批准会失败；请驳回后重新申请`) : null,
            c.status === "APPROVED" && c.appliedAfter !== null && c.appliedAfter !== c.newValue ? h("div", { class: "muted small" }, `保存为“${c.appliedAfter}”`) : null) },
          { label: "原因", key: "reason" },
          { label: "申请人", key: "requestedBy" },
          { label: "状态", render: (c) => h("span", null, pill(...(STATUS[c.status] || [c.status])),
            c.decidedBy ? h("div", { class: "muted small" }, `${c.decidedBy} ${fmtDateTime(c.decidedAt)}${c.decisionReason ? `：${c.decisionReason}` : ""}`) : null) },
          { label: "操作", render: (c) => actions(c) },
        ], conn.edges.map((e) => e.node), { caption: "更正申请", hideCaption: true, empty: "没有符合条件的更正申请。" }),
        pager.controls({ totalCount: conn.totalCount, pageInfo: conn.pageInfo, onChange: load, label: "更正申请分页" }));
    }, "正在读取更正申请…");
  }

  function actions(c) {
    if (c.status !== "PENDING") return "";
    if (!isApprover(ctx.viewer)) return h("span", { class: "muted small" }, "等待审核人处理");
    if (c.requestedBy === ctx.viewer.username) return h("span", { class: "muted small" }, "本人申请，须由其他审核人处理");
    return h("div", { class: "actions", style: { marginTop: "0" } },
      h("button", { type: "button", class: "button small ok", "aria-label": `批准：${c.targetLabel} ${c.fieldLabel || c.field}`, onclick: () => approve(c) }, "批准"),
      h("button", { type: "button", class: "button small ghost", "aria-label": `驳回：${c.targetLabel} ${c.fieldLabel || c.field}`, onclick: () => reject(c) }, "驳回…"));
  }

  async function approve(c) {
    const ok = await confirmDialog({
      title: "批准更正",
      message: `批准后，“${c.targetLabel}”的${c.fieldLabel || c.field}将由“${c.oldValue ?? "（空）"}”改为“${c.newValue ?? "（空）"}”，修改前后的值都会保留，并自动重新推送到平台。`,
      confirmLabel: "批准并应用",
    });
    if (!ok) return;
    await decide(APPROVE, "approveCorrection", { correctionId: c.id }, "已批准，更正已应用");
  }

  async function reject(c) {
    const reason = await reasonDialog({ title: "驳回更正", message: `驳回“${c.targetLabel}”的${c.fieldLabel || c.field}更正申请。`, label: "驳回原因", confirmLabel: "驳回" });
    if (!reason) return;
    await decide(REJECT, "rejectCorrection", { correctionId: c.id, reason }, "已驳回");
  }

  async function decide(mutation, name, input, done) {
    try {
      const data = await gql(mutation, { input });
      const r = data[name];
      if (r.userErrors.length) toast(r.userErrors.map((e) => e.message).join("；"), "error");
      else toast(done, "ok");
    } catch (error) {
      toast(error.message, "error");
    }
    load();
  }

  const form = h("form", { class: "filters", novalidate: true, onsubmit: (e) => { e.preventDefault(); pager.reset(); load(); } },
    fStatus.el, fType.el, fBy.el, h("div", { class: "actions" }, h("button", { type: "submit", class: "button" }, "筛选")));
  load();
  const canRequest = ctx.viewer.permissions.includes("clinical:write") || ctx.viewer.permissions.includes("admin");
  return h("div", null,
    h("div", { class: "page-head" },
      h("div", null, h("h1", null, "数据更正"), h("p", { class: "muted" }, "更正已保存的数据：申请 → 另一位审核人批准 → 在一个事务中应用并保留修改前后的值，随后自动重新推送。")),
      canRequest ? h("a", { href: "/admin/corrections/new", class: "button" }, "申请更正") : null),
    h("section", { class: "card", "aria-label": "更正申请列表" }, form, box));
}

function renderRequest(ctx) {
  const root = h("div", null, spinner("正在准备更正申请…"));
  const presetTarget = ctx.query.get("targetId");

  async function start() {
    try {
      const data = await gql(FIELDS);
      build(data.correctableFields);
    } catch (error) {
      replace(root, h("h1", null, "申请更正"), errorBox(error, start));
    }
  }

  function build(correctable) {
    const problem = formError();
    let target = null; // { id, type, label }
    const targetBox = h("div");
    const detailBox = h("div");

    // Step 1: the record.
    const search = field({ name: "search", label: "查找孕妇", hint: "姓名、拼音首字母、身份证号或电话", placeholder: "例如：WXM" });
    search.el.classList.add("wide");
    const found = h("div", { "aria-live": "polite" });
    const findForm = h("form", { class: "filters", role: "search", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      const text = search.value().trim();
      if (!text) { search.setError("请输入姓名、拼音首字母、身份证号或电话"); search.input.focus(); return; }
      search.clearError();
      await loadInto(found, async () => {
        const data = await gql(PATIENTS, { search: text });
        const rows = data.patients.edges.map((e) => e.node);
        return table([
          { label: "姓名", render: (p) => `${p.name}（${p.nameInitials}）` },
          { label: "身份证号", render: (p) => h("span", { class: "mono" }, p.residentId) },
          { label: "", render: (p) => h("button", { type: "button", class: "button small", onclick: () => choosePatient(p) }, "选择") },
        ], rows, { caption: "孕妇", hideCaption: true, empty: "没有找到，请换个关键字。" });
      }, "正在查找…");
    } }, search.el, h("div", { class: "actions" }, h("button", { type: "submit", class: "button ghost" }, "查找")));

    async function choosePatient(p) {
      await loadInto(found, async () => {
        const data = await gql(TARGETS, { id: p.id });
        const pt = data.node;
        const options = [{ group: "孕妇信息", id: pt.id, type: "Patient", label: `${pt.name} 的个人信息` }];
        for (const preg of pt.pregnancies) {
          const tag = `${fmtDate(preg.bookingDate)} 建档`;
          options.push({ group: "孕产档案", id: preg.id, type: "Pregnancy", label: `${tag}（手册 ${preg.handbookNo || "—"}）` });
          for (const v of preg.visits) options.push({ group: "产前检查", id: v.id, type: "PrenatalVisit", label: `${fmtDate(v.visitDate)} 产检（孕 ${v.gestationalAge.text} 周）` });
          for (const f of preg.riskFactors) options.push({ group: "高危因素", id: f.id, type: "RiskFactor", label: `${f.code} ${f.name}` });
          for (const u of preg.ultrasoundExams) options.push({ group: "超声检查", id: u.id, type: "UltrasoundExam", label: `${fmtDate(u.examDate)} 超声${u.ntMm !== null ? `（NT ${u.ntMm} mm）` : ""}` });
        }
        for (const e of pt.labResults.edges) options.push({ group: "检验结果", id: e.node.id, type: "LabResult", label: `${fmtDate(e.node.reportedAt)} ${e.node.itemName} ${e.node.valueText || ""}` });
        const usable = options.filter((o) => fieldsFor(o.type).length);
        const id = `target-${Date.now()}`;
        const select = h("select", { id, onchange: () => pick(usable.find((o) => o.id === select.value)) },
          h("option", { value: "" }, "请选择要更正的记录"),
          [...new Set(usable.map((o) => o.group))].map((g) => h("optgroup", { label: g }, usable.filter((o) => o.group === g).map((o) => h("option", { value: o.id }, o.label)))));
        return h("div", { class: "field wide" }, h("label", { for: id }, `${pt.name} 的记录`), select);
      }, "正在读取该孕妇的记录…");
      found.querySelector("select")?.focus();
    }

    function fieldsFor(type) {
      const names = SAME_TYPE[type] || [type];
      return correctable.filter((f) => names.includes(f.targetType));
    }

    function pick(option) {
      target = option || null;
      if (!target) { replace(detailBox); return; }
      showDetail();
    }

    // Step 2: the field, the new value and the reason.
    function showDetail() {
      const available = fieldsFor(target.type);
      const fields = {
        field: field({ name: "field", label: "字段", kind: "select", required: true, options: [{ value: "", label: "请选择字段" }, ...available.map((f) => ({ value: f.field, label: `${f.label}${f.unit ? `（${f.unit}）` : ""}` }))] }),
        newValue: field({ name: "newValue", label: "新值", required: true, hint: "先选择字段" }),
        reason: field({ name: "reason", label: "更正原因", kind: "textarea", required: true, hint: "例如：录入时看错化验单，应为…；将记入审计日志" }),
      };
      fields.reason.el.classList.add("wide");
      const valueSlot = h("div", { class: "field-slot" }, fields.newValue.el);
      const current = h("p", { class: "muted", "aria-live": "polite" });
      let chosen = null;

      fields.field.input.addEventListener("change", async () => {
        chosen = available.find((x) => x.field === fields.field.value()) || null;
        const kinds = { TEXT: "textarea", NUMBER: "number", INTEGER: "integer", DATE: "date" };
        fields.newValue = field({
          name: "newValue",
          label: chosen ? `新的${chosen.label}${chosen.unit ? `（${chosen.unit}）` : ""}` : "新值",
          kind: chosen ? kinds[chosen.valueType] || "text" : "text",
          required: chosen ? chosen.required : true,
          hint: chosen && !chosen.required ? "留空表示清空该字段" : "必填",
        });
        if (chosen && chosen.valueType === "TEXT") fields.newValue.el.classList.add("wide");
        replace(valueSlot, fields.newValue.el);
        replace(current);
        if (chosen && /^[A-Za-z]\w*$/.test(chosen.field) && /^[A-Za-z]\w*$/.test(target.type)) {
          try {
            const data = await gql(`query CorrectionCurrentValue($id: ID!) { node(id: $id) { ... on ${target.type} { ${chosen.field} } } }`, { id: target.id });
            const value = data.node ? data.node[chosen.field] : null;
            replace(current, "当前值：", h("strong", null, value === null || value === undefined || value === "" ? "（空）" : String(value)));
          } catch {
            replace(current, "当前值暂时无法读取；审核时会显示申请时的值。");
          }
        }
      });
      const submit = h("button", { type: "submit", class: "button" }, "提交申请");
      const form = h("form", { novalidate: true, onsubmit: async (e) => {
        e.preventDefault();
        const local = [];
        if (!fields.field.value()) local.push({ field: "field", message: "请选择要更正的字段" });
        else if (chosen && chosen.required && !fields.newValue.value().trim()) local.push({ field: "newValue", message: `请填写新的${chosen.label}（该字段不能清空）` });
        if (!fields.reason.value().trim()) local.push({ field: "reason", message: "请填写更正原因" });
        if (local.length) { showUserErrors(fields, problem, local); return; }
        showUserErrors(fields, problem, []);
        submit.disabled = true;
        submit.textContent = "正在提交…";
        try {
          const data = await gql(REQUEST, { input: { targetId: target.id, field: fields.field.value(), newValue: fields.newValue.value().trim(), reason: fields.reason.value().trim() } });
          const r = data.requestCorrection;
          if (r.userErrors.length) { showUserErrors(fields, problem, r.userErrors); return; }
          toast("更正申请已提交，等待审核人批准", "ok");
          navigate("/admin/corrections?status=PENDING");
        } catch (error) {
          problem.textContent = error.message;
          problem.hidden = false;
        } finally {
          submit.disabled = false;
          submit.textContent = "提交申请";
        }
      } },
      h("p", null, "更正的记录：", h("strong", null, `${TYPE_LABELS[target.type] || target.type} · ${target.label}`)),
      h("div", { class: "filters" }, fields.field.el, valueSlot),
      current,
      h("div", { class: "filters" }, fields.reason.el),
      problem,
      h("div", { class: "actions" }, submit, h("a", { href: "/admin/corrections", class: "button ghost" }, "取消")));
      replace(detailBox, h("section", { class: "card", "aria-label": "更正内容" }, h("h2", null, "2. 更正内容"), form));
      fields.field.input.focus();
    }

    replace(root,
      h("p", { class: "crumbs" }, h("a", { href: "/admin/corrections" }, "数据更正"), " › 申请更正"),
      h("h1", null, "申请更正"),
      notice("更正申请须由另一位具有审核人角色的用户批准后才会生效；申请人不能批准自己的申请。", "info"),
      h("section", { class: "card", "aria-label": "选择记录" }, h("h2", null, "1. 选择要更正的记录"), targetBox),
      detailBox);

    if (presetTarget) {
      loadInto(targetBox, async () => {
        const data = await gql(TARGET_KIND, { id: presetTarget });
        if (!data.node) throw new Error("找不到要更正的记录：链接可能有误。请在下面查找孕妇后选择记录。");
        const label = ctx.query.get("label") || `${TYPE_LABELS[data.node.__typename] || data.node.__typename}（${presetTarget}）`;
        pick({ id: presetTarget, type: data.node.__typename, label });
        return h("div", null, h("p", null, `已选择：${label}`), h("button", { type: "button", class: "link-button", onclick: () => { replace(targetBox, findForm, found); replace(detailBox); } }, "改选其他记录"));
      }, "正在读取记录…");
    } else {
      replace(targetBox, findForm, found);
    }
  }

  start();
  return root;
}
