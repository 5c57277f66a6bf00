// 查看归档资料: one archived pregnancy, read-only — visits, factors, labs, ultrasound,
// handbook PDFs and push history. Reopening needs a reason (audited).
// Each section loads by itself, so a part that fails says so without hiding the rest.

import { gql } from "../api.js";
import { h, replace, fmtDate, fmtDateTime, fmtNumber } from "../dom.js";
import { CursorPager, colorPill, errorBox, loadInto, notice, pill, reasonDialog, section, spinner, table, toast } from "../ui.js";
import { PUSH_STATUS, RECORD_TYPES } from "./push.js";

const RECORD = `
query ArchivedRecord($id: ID!) {
  node(id: $id) {
    __typename
    ... on Pregnancy {
      id status lmp edd gravidity parity bookingDate bookingUnit handbookNo
      deliveredOn deliveredRecordedBy archivedAt archivedBy riskColor infectious
      gestationalAgeAtDelivery { text }
      patient { id name nameInitials residentId birthDate age phone address ethnicity emrRecordNo lisRecordNo identifiersMasked }
      riskAssessment { rule }
      riskFactors { id code name color diagnosis diagnosisSource icd10Code recordedBy recordedAt version }
      visits {
        id visitDate gestationalAge { text } weightKg systolicBp diastolicBp fundalHeightCm
        abdominalCircumferenceCm fetalHeartRate fetalPosition remarks nextVisitDate doctorName version
      }
      ultrasoundExams { id examDate gestationalAge { text } ntMm crlMm extractionStatus source matchedText ntAtOrAboveCutoff fetuses { label ntMm } }
      infectiousScreening { complete items { itemCode itemName result valueText testedAt source amended } }
    }
  }
  correctableFields { targetType }
}`;

const LABS = `
query ArchivedLabs($id: ID!, $first: Int, $after: String) {
  node(id: $id) {
    ... on Patient {
      labResults(first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { id itemCode itemName valueText valueNumeric unit referenceRange abnormalFlag reportedAt specimenAt source amended } }
      }
    }
  }
}`;

const HANDBOOKS = `
query ArchivedHandbooks($id: ID!) {
  node(id: $id) {
    ... on Pregnancy { handbookDocuments { id filename createdAt createdBy size downloadUrl } }
  }
}`;

const PUSH_HISTORY = `
query ArchivedPushHistory($pregnancyId: ID!) {
  pushRecords(filter: { pregnancyId: $pregnancyId }, first: 50) {
    totalCount
    edges { node { id recordId recordType version deliveredVersion status statusLabel attempts updatedAt lastError { message fieldErrors { field reason } } } }
  }
}`;

const REOPEN = `
mutation ReopenArchive($input: ReopenArchiveInput!) {
  reopenArchive(input: $input) {
    pregnancy { id status archivedAt }
    userErrors { field message code }
  }
}`;

const STATUS = { ACTIVE: "管理中", DELIVERED: "已分娩", ARCHIVED: "已归档" };
const QUAL = { POSITIVE: "阳性", NEGATIVE: "阴性", WEAK_POSITIVE: "弱阳性" };
const NT_STATUS = { PENDING: "未提取", EXTRACTED: "已提取", MULTIPLE: "多胎", NOT_FOUND: "报告无NT", NOT_MEASURED: "未测", AMBIGUOUS: "不明确" };

const canCorrect = (viewer) => viewer.permissions.includes("clinical:write") || viewer.permissions.includes("admin");
const canReopen = (viewer) => ["doctor", "admin"].some((r) => viewer.roles.includes(r));

// Record types that corrections accept (correctableFields); links are offered only for those.
let correctable = new Set();

function correctLink(ctx, id, label, type) {
  if (!canCorrect(ctx.viewer) || !correctable.has(type)) return null;
  return h("a", { href: `/admin/corrections/new?targetId=${encodeURIComponent(id)}&label=${encodeURIComponent(label)}`, class: "small", "aria-label": `申请更正：${label}` }, type === "Patient" ? "申请更正孕妇信息" : type === "Pregnancy" ? "申请更正档案信息" : "申请更正");
}

export function render(ctx) {
  const id = ctx.params.id;
  const root = h("div", null, spinner("正在打开归档资料…"));
  let warnings = [];

  async function load() {
    replace(root, spinner("正在打开归档资料…"));
    warnings = [];
    try {
      const data = await gql(RECORD, { id }, { onWarning: (w) => { warnings = w; } });
      const p = data.node;
      if (!p || p.__typename !== "Pregnancy") {
        replace(root, h("h1", null, "查看归档资料"), errorBox(new Error("找不到这份孕产档案：链接可能有误，或档案已被删除。请回到归档查询重新查找。")),
          h("a", { href: "/admin/archive", class: "button" }, "返回归档查询"));
        return;
      }
      correctable = new Set(data.correctableFields.map((f) => f.targetType));
      show(p);
    } catch (error) {
      replace(root, h("h1", null, "查看归档资料"), errorBox(error, load));
    }
  }

  function show(p) {
    ctx.setTitle(`${p.patient.name} · 归档资料`);
    const archived = p.status === "ARCHIVED";
    const reopen = canReopen(ctx.viewer) && archived
      ? h("button", { type: "button", class: "button ghost", onclick: () => doReopen(p) }, "重新打开档案…")
      : null;
    const facts = (pairs) => h("dl", { class: "facts" }, pairs.flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v ?? "—")]));

    const labsBox = h("div");
    const handbooksBox = h("div");
    const pushBox = h("div");
    replace(root,
      h("p", { class: "crumbs" }, h("a", { href: "/admin/archive" }, "归档查询"), " › 查看归档资料"),
      h("div", { class: "page-head" },
        h("h1", null, `${p.patient.name} 的孕产档案`),
        h("div", { class: "actions" }, reopen, h("button", { type: "button", class: "button ghost", onclick: () => window.print() }, "打印"))),
      archived
        ? h("div", { class: "readonly-banner", role: "note" }, pill("只读", "off"),
          `已于 ${fmtDateTime(p.archivedAt)} 由 ${p.archivedBy || "—"} 归档。归档资料不能直接修改；如需修改，请提交数据更正申请，或重新打开档案（须填写原因，记入审计日志）。`)
        : notice(`档案状态：${STATUS[p.status] || p.status}（未归档，可在临床界面继续修改）。`, "info"),
      warnings.length ? notice(`部分外部数据暂不可用：${warnings.join("；")}`, "warn") : null,
      section("孕妇与档案",
        facts([
          ["姓名", `${p.patient.name}（${p.patient.nameInitials}）`], ["身份证号", h("span", { class: "mono" }, p.patient.residentId)],
          ["出生日期", `${fmtDate(p.patient.birthDate)}（${p.patient.age} 岁）`], ["电话", p.patient.phone],
          ["民族", p.patient.ethnicity], ["住址", p.patient.address],
          ["病历号", p.patient.emrRecordNo], ["检验病人号", p.patient.lisRecordNo],
          ["手册编号", p.handbookNo], ["建档", `${fmtDate(p.bookingDate)} ${p.bookingUnit || ""}`],
          ["末次月经", fmtDate(p.lmp)], ["预产期", fmtDate(p.edd)],
          ["孕产次", `G${p.gravidity}P${p.parity}`], ["状态", STATUS[p.status] || p.status],
          ["分娩日期", p.deliveredOn ? `${fmtDate(p.deliveredOn)}${p.gestationalAgeAtDelivery ? `（孕 ${p.gestationalAgeAtDelivery.text} 周）` : ""}` : "—"],
          ["妊娠风险", h("span", null, colorPill(p.riskColor), p.infectious ? [" ", colorPill("PURPLE"), "（传染病）"] : null)],
        ]),
        h("p", { class: "actions small" },
          correctLink(ctx, p.patient.id, `孕妇 ${p.patient.name}`, "Patient"),
          correctLink(ctx, p.id, `${p.patient.name} 的孕产档案`, "Pregnancy"))).el,
      section(`高危因素（${p.riskFactors.length}）`,
        table([
          { label: "编码", key: "code", class: "mono" },
          { label: "名称", key: "name" },
          { label: "颜色", render: (f) => colorPill(f.color) },
          { label: "诊断", render: (f) => f.diagnosis ? `${f.diagnosis}${f.icd10Code ? `（${f.icd10Code}）` : ""}` : "—" },
          { label: "诊断来源", render: (f) => f.diagnosisSource === "EMR" ? "电子病历" : "手工" },
          { label: "录入", render: (f) => `${fmtDateTime(f.recordedAt)} ${f.recordedBy || ""}`, class: "nowrap" },
          { label: "", render: (f) => correctLink(ctx, f.id, `高危因素 ${f.name}`, "RiskFactor") },
        ], p.riskFactors, { caption: "高危因素", hideCaption: true, empty: "无高危因素（绿色）" })).el,
      section(`产前检查（${p.visits.length}）`,
        table([
          { label: "日期", render: (v) => fmtDate(v.visitDate), class: "nowrap" },
          { label: "孕周", render: (v) => v.gestationalAge.text },
          { label: "体重 kg", render: (v) => fmtNumber(v.weightKg), class: "num" },
          { label: "血压", render: (v) => v.systolicBp ? `${v.systolicBp}/${v.diastolicBp ?? "—"}` : "—", class: "nowrap" },
          { label: "宫高 cm", render: (v) => fmtNumber(v.fundalHeightCm), class: "num" },
          { label: "腹围 cm", render: (v) => fmtNumber(v.abdominalCircumferenceCm), class: "num" },
          { label: "胎心", render: (v) => fmtNumber(v.fetalHeartRate), class: "num" },
          { label: "胎位", render: (v) => v.fetalPosition || "—" },
          { label: "备注/特殊记录", render: (v) => v.remarks || "—" },
          { label: "医生", render: (v) => v.doctorName || "—" },
          { label: "", render: (v) => correctLink(ctx, v.id, `${fmtDate(v.visitDate)} 产检`, "PrenatalVisit") },
        ], p.visits, { caption: "产前检查", hideCaption: true, empty: "没有产检记录" })).el,
      section("传染病筛查",
        table([
          { label: "项目", key: "itemName" },
          { label: "结果", render: (i) => i.result ? QUAL[i.result] : (i.valueText ? "—" : "未检测") },
          { label: "文字结果", render: (i) => i.valueText || "—" },
          { label: "检验日期", render: (i) => fmtDate(i.testedAt) },
          { label: "来源", render: (i) => `${i.source || "—"}${i.amended ? "（已修订）" : ""}` },
        ], p.infectiousScreening.items, { caption: "传染病筛查", hideCaption: true })).el,
      section("检验结果（该孕妇全部历史）", labsBox).el,
      section(`超声检查（${p.ultrasoundExams.length}）`,
        table([
          { label: "日期", render: (u) => fmtDate(u.examDate), class: "nowrap" },
          { label: "孕周", render: (u) => (u.gestationalAge ? u.gestationalAge.text : "—") },
          { label: "NT mm", render: (u) => u.fetuses.length > 1 ? u.fetuses.map((f) => `${f.label || "胎儿"} ${f.ntMm}`).join("；") : fmtNumber(u.ntMm), class: "num" },
          { label: "CRL mm", render: (u) => fmtNumber(u.crlMm), class: "num" },
          { label: "NT 状态", render: (u) => NT_STATUS[u.extractionStatus] || u.extractionStatus },
          { label: "增厚", render: (u) => u.ntAtOrAboveCutoff === null ? "—" : u.ntAtOrAboveCutoff ? pill("≥界值", "err") : pill("正常", "ok") },
          { label: "报告原文片段", render: (u) => u.matchedText || "—" },
          { label: "", render: (u) => correctLink(ctx, u.id, `${fmtDate(u.examDate)} 超声`, "UltrasoundExam") },
        ], p.ultrasoundExams, { caption: "超声检查", hideCaption: true, empty: "没有超声检查" })).el,
      section("母子健康手册（PDF）", handbooksBox).el,
      section("推送记录（桂妇儿平台）", pushBox).el,
    );
    loadLabs(p.patient.id, labsBox);
    loadInto(handbooksBox, () => handbooks(p.id), "正在读取手册文件…");
    loadInto(pushBox, () => pushHistory(p.id), "正在读取推送记录…");
  }

  function loadLabs(patientId, box) {
    const pager = new CursorPager(20);
    const load = () => loadInto(box, async () => {
      const data = await gql(LABS, { id: patientId, first: pager.pageSize, after: pager.after });
      const conn = data.node.labResults;
      return h("div", null,
        table([
          { label: "报告时间", render: (l) => fmtDateTime(l.reportedAt), class: "nowrap" },
          { label: "项目", render: (l) => `${l.itemName}（${l.itemCode}）` },
          { label: "结果", render: (l) => `${l.valueText ?? fmtNumber(l.valueNumeric)}${l.unit ? ` ${l.unit}` : ""}` },
          { label: "参考范围", render: (l) => l.referenceRange || "—" },
          { label: "标志", render: (l) => l.abnormalFlag ? pill(l.abnormalFlag, "warn") : "" },
          { label: "来源", render: (l) => `${l.source}${l.amended ? "（已修订）" : ""}` },
          { label: "", render: (l) => correctLink(ctx, l.id, `${fmtDate(l.reportedAt)} ${l.itemName}`, "LabResult") },
        ], conn.edges.map((e) => e.node), { caption: "检验结果", hideCaption: true, empty: "没有检验结果" }),
        pager.controls({ totalCount: conn.totalCount, pageInfo: conn.pageInfo, onChange: load, label: "检验结果分页" }));
    }, "正在读取检验结果…");
    load();
  }

  async function handbooks(pregnancyId) {
    const data = await gql(HANDBOOKS, { id: pregnancyId });
    const docs = (data.node && data.node.handbookDocuments) || [];
    return table([
      { label: "文件", key: "filename" },
      { label: "生成时间", render: (d) => fmtDateTime(d.createdAt) },
      { label: "生成人", render: (d) => d.createdBy || "—" },
      { label: "大小", render: (d) => `${Math.max(1, Math.round(d.size / 1024))} KB`, class: "num" },
      { label: "下载", render: (d) => d.downloadUrl ? h("a", { href: d.downloadUrl, download: d.filename, class: "button small ghost" }, "下载 PDF") : "—" },
    ], docs, { caption: "手册 PDF", hideCaption: true, empty: "这份档案还没有生成过手册 PDF。" });
  }

  async function pushHistory(pregnancyId) {
    const data = await gql(PUSH_HISTORY, { pregnancyId });
    const rows = data.pushRecords.edges.map((e) => e.node);
    return table([
      { label: "记录类型", render: (r) => RECORD_TYPES[r.recordType] || r.recordType },
      { label: "版本", render: (r) => `v${r.version}${r.deliveredVersion ? `（已送达 v${r.deliveredVersion}）` : ""}` },
      { label: "状态", render: (r) => pill(r.statusLabel, PUSH_STATUS[r.status] ? PUSH_STATUS[r.status].kind : "neutral") },
      { label: "尝试次数", key: "attempts", class: "num" },
      { label: "最近错误", render: (r) => r.lastError ? [r.lastError.message, ...r.lastError.fieldErrors.map((f) => h("div", { class: "small" }, `${f.field}：${f.reason}`))] : "—" },
      { label: "更新时间", render: (r) => fmtDateTime(r.updatedAt), class: "nowrap" },
      { label: "", render: (r) => ctx.viewer.roles.includes("admin") ? h("a", { href: `/admin/push/${encodeURIComponent(r.recordId)}`, "aria-label": `推送记录 ${r.recordId} 详情` }, "详情") : null },
    ], rows, { caption: "推送记录", hideCaption: true, empty: "这份档案没有推送记录。" });
  }

  async function doReopen(p) {
    const reason = await reasonDialog({
      title: "重新打开档案",
      message: `重新打开后，${p.patient.name} 的这份档案回到归档前的状态（已登记分娩的为“已分娩”，否则为“管理中”）；已分娩档案的数据修改仍需提交数据更正申请。此操作记入审计日志。`,
      label: "重新打开的原因",
      confirmLabel: "重新打开",
    });
    if (!reason) return;
    try {
      const data = await gql(REOPEN, { input: { pregnancyId: p.id, reason } });
      const result = data.reopenArchive;
      if (result.userErrors.length) {
        toast(result.userErrors.map((e) => e.message).join("；"), "error");
        return;
      }
      toast("档案已重新打开", "ok");
      load();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  load();
  return root;
}
