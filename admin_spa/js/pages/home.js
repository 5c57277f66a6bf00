// Start page: what this user can do here, one card per page.

import { h } from "../dom.js";

const ABOUT = {
  archive: "按姓名、拼音首字母、身份证号、电话、手册编号或日期查找已归档的孕产档案，只读查看全部资料。",
  push: "桂妇儿平台推送的状态统计、失败原因、单条记录的报文，以及重试、丢弃和重放。",
  dictionary: "高危因素、检验项目编码映射、平台代码映射；修改留有版本和审计，立即生效。",
  parameters: "NT 界值、EMR 超时、推送节奏、巡检周期等系统参数和流程开关。",
  corrections: "申请更正已保存的数据，由另一位审核人批准或驳回；批准后自动重新推送。",
  reports: "高危孕产妇、传染病筛查、NT、推送成功率等统计；导出 CSV、Excel、PDF。",
  inspections: "系统巡检报告（季度及手动），下载 PDF，查看指标趋势。",
  audit: "谁在何时查看或修改了哪位孕妇的数据，可按人员、患者、操作和时间筛选。",
};

export function render(ctx) {
  return h("div", null,
    h("h1", null, `欢迎，${ctx.viewer.displayName}`),
    ctx.pages.length
      ? h("div", { class: "cards" }, ctx.pages.map((p) =>
        h("a", { class: "card link-card", href: p.path }, h("h2", null, p.label), h("p", { class: "muted small" }, ABOUT[p.id] || ""))))
      : h("p", { class: "notice warn" }, "您的账号还没有可用的管理功能。请联系系统管理员分配角色。"),
    h("p", { class: "muted small" }, "所有功能都通过 GraphQL 接口完成；开发者可在 ", h("a", { href: "/graphql", target: "_blank" }, "GraphQL 调试台"), " 调用同样的接口。"));
}
