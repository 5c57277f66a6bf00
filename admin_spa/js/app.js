// The shell: session, login, navigation filtered by the viewer's roles, and the page router.

import * as api from "./api.js";
import { h, replace } from "./dom.js";
import { BASE, currentLocation, match, onRoute, startRouter } from "./router.js";
import { errorBox, field, formError, spinner } from "./ui.js";
import * as home from "./pages/home.js";
import * as archive from "./pages/archive.js";
import * as record from "./pages/archive_record.js";
import * as push from "./pages/push.js";
import * as dictionary from "./pages/dictionary.js";
import * as parameters from "./pages/parameters.js";
import * as corrections from "./pages/corrections.js";
import * as reports from "./pages/reports.js";
import * as inspections from "./pages/inspections.js";
import * as audit from "./pages/audit.js";

const ROLE_LABELS = { doctor: "医生", admin: "管理员", auditor: "审计员", approver: "审核人" };

const has = (viewer, ...roles) => roles.some((r) => viewer.roles.includes(r));
const can = (viewer, permission) => viewer.permissions.includes(permission);

/** Left navigation: one entry per page; `allowed` hides what the viewer's roles cannot use. */
export const PAGES = [
  { id: "archive", label: "归档查询", path: `${BASE}/archive`, allowed: (v) => can(v, "patient:read"), needs: "医生、管理员、审核人或审计员" },
  { id: "push", label: "推送监控", path: `${BASE}/push`, allowed: (v) => has(v, "admin"), needs: "管理员" },
  { id: "dictionary", label: "数据字典", path: `${BASE}/dictionary`, allowed: (v) => has(v, "admin"), needs: "管理员" },
  { id: "parameters", label: "系统参数", path: `${BASE}/parameters`, allowed: (v) => has(v, "admin", "auditor"), needs: "管理员或审计员" },
  { id: "corrections", label: "数据更正", path: `${BASE}/corrections`, allowed: (v) => has(v, "doctor", "admin", "approver", "auditor"), needs: "医生、管理员、审核人或审计员" },
  { id: "reports", label: "统计报表", path: `${BASE}/reports`, allowed: (v) => has(v, "admin", "auditor"), needs: "管理员或审计员" },
  { id: "inspections", label: "巡检报告", path: `${BASE}/inspections`, allowed: (v) => has(v, "admin", "auditor"), needs: "管理员或审计员" },
  { id: "audit", label: "审计日志", path: `${BASE}/audit`, allowed: (v) => can(v, "audit:read"), needs: "审计员" },
];

const ROUTES = [
  { pattern: BASE, page: null, view: home },
  { pattern: `${BASE}/archive`, page: "archive", view: archive },
  { pattern: `${BASE}/archive/:id`, page: "archive", view: record },
  { pattern: `${BASE}/push`, page: "push", view: push },
  { pattern: `${BASE}/push/:recordId`, page: "push", view: push },
  { pattern: `${BASE}/dictionary`, page: "dictionary", view: dictionary },
  { pattern: `${BASE}/dictionary/:tab`, page: "dictionary", view: dictionary },
  { pattern: `${BASE}/parameters`, page: "parameters", view: parameters },
  { pattern: `${BASE}/corrections`, page: "corrections", view: corrections },
  { pattern: `${BASE}/corrections/new`, page: "corrections", view: corrections, detail: true },
  { pattern: `${BASE}/reports`, page: "reports", view: reports },
  { pattern: `${BASE}/reports/:code`, page: "reports", view: reports },
  { pattern: `${BASE}/inspections`, page: "inspections", view: inspections },
  { pattern: `${BASE}/audit`, page: "audit", view: audit },
];

const main = () => document.getElementById("main");
let viewer = null;
let leaving = [];
let firstRender = true;

function setTitle(text) {
  document.title = text ? `${text} · MaternityHub 管理后台` : "MaternityHub 管理后台";
}

function renderNav(activeId) {
  const nav = document.getElementById("nav");
  const allowed = PAGES.filter((p) => p.allowed(viewer));
  replace(nav, h("ul", null, allowed.map((p) =>
    h("li", null, h("a", { href: p.path, "aria-current": p.id === activeId ? "page" : null }, p.label)))));
  nav.hidden = false;
}

function leave() {
  for (const fn of leaving) {
    try { fn(); } catch { /* a page's cleanup must not stop navigation */ }
  }
  leaving = [];
}

function render(location) {
  if (!viewer) return;
  leave();
  const found = ROUTES.map((r) => ({ route: r, params: match(r.pattern, location.path) })).find((m) => m.params);
  const target = main();
  if (!found) {
    renderNav(null);
    setTitle("页面不存在");
    replace(target, h("h1", { tabindex: "-1" }, "页面不存在"), h("p", null, "地址有误或页面已移动。"), h("a", { href: BASE, class: "button" }, "返回首页"));
    focusHeading();
    return;
  }
  const { route, params } = found;
  const page = PAGES.find((p) => p.id === route.page);
  renderNav(route.page);
  if (page && !page.allowed(viewer)) {
    setTitle(page.label);
    replace(target, h("h1", { tabindex: "-1" }, page.label),
      errorBox(new Error(`您的角色不能使用“${page.label}”（需要${page.needs}角色）。如需使用，请联系系统管理员分配角色。`)));
    focusHeading();
    return;
  }
  setTitle(page ? page.label : "首页");
  const ctx = {
    params,
    query: location.query,
    viewer,
    detail: Boolean(route.detail),
    pages: PAGES.filter((p) => p.allowed(viewer)),
    onLeave: (fn) => leaving.push(fn),
    setTitle,
  };
  try {
    replace(target, route.view.render(ctx));
  } catch (error) {
    replace(target, errorBox(error));
  }
  focusHeading();
}

function focusHeading() {
  // Moving focus to the new page's heading tells keyboard and screen-reader users where they are.
  if (firstRender) { firstRender = false; return; }
  const heading = main().querySelector("h1");
  if (heading) {
    if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
  }
}

async function loadViewer(session) {
  const data = await api.gql("query AdminViewer { viewer { username roles permissions } }");
  if (!data.viewer) throw new api.ApiError("登录已过期，请重新登录。", { code: "UNAUTHENTICATED" });
  // /auth/session does not carry the display name; the login answer does, so it is kept for reloads.
  if (session.displayName) sessionStorage.setItem(`mhub-name:${data.viewer.username}`, session.displayName);
  const displayName = session.displayName || sessionStorage.getItem(`mhub-name:${data.viewer.username}`) || data.viewer.username;
  viewer = { ...data.viewer, displayName };
  document.getElementById("who-name").textContent = viewer.displayName;
  document.getElementById("who-roles").textContent = viewer.roles.map((r) => ROLE_LABELS[r] || r).join("、");
  document.getElementById("who").hidden = false;
}

function showLogin(message) {
  viewer = null;
  leave();
  document.getElementById("who").hidden = true;
  document.getElementById("nav").hidden = true;
  setTitle("登录");
  const username = field({ name: "username", label: "用户名", required: true, autocomplete: "username" });
  const password = field({ name: "password", label: "密码", kind: "password", required: true, autocomplete: "current-password" });
  const problem = formError();
  const submit = h("button", { type: "submit", class: "button" }, "登录");
  const form = h("form", { class: "card login", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    username.clearError();
    password.clearError();
    problem.hidden = true;
    if (!username.value().trim()) { username.setError("请输入用户名"); username.input.focus(); return; }
    if (!password.value()) { password.setError("请输入密码"); password.input.focus(); return; }
    submit.disabled = true;
    submit.textContent = "正在登录…";
    try {
      const session = await api.login(username.value().trim(), password.value());
      await start(session);
    } catch (error) {
      problem.textContent = `${error.message}${error.code === "LOGIN_FAILED" ? "。请检查用户名和密码（区分大小写）后重试。" : ""}`;
      problem.hidden = false;
      password.input.select();
      password.input.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = "登录";
    }
  } },
  h("h1", null, "登录管理后台"),
  message ? h("p", { class: "notice warn", role: "alert" }, message) : null,
  username.el, password.el, problem, h("div", { class: "actions" }, submit),
  h("p", { class: "muted small" }, "使用医院分配的账号登录。登录 12 小时后需重新登录；在公用电脑上用完请点“退出登录”。"));
  replace(main(), form);
  username.input.focus();
}

async function start(session) {
  replace(main(), spinner("正在读取用户信息…"));
  await loadViewer(session);
  render(currentLocation());
}

async function boot() {
  startRouter();
  onRoute(render);
  api.onSessionExpired(() => showLogin("登录已过期，请重新登录；登录后会回到当前页面。"));
  document.getElementById("logout").addEventListener("click", async () => {
    await api.logout().catch(() => {});
    showLogin("已退出登录。");
  });
  try {
    const session = await api.session();
    if (!session.authenticated) { showLogin(); return; }
    await start(session);
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") { showLogin(); return; }
    replace(main(), errorBox(error, () => location.reload()));
  }
}

boot();
