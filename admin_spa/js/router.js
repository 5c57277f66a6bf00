// History API routing under /admin (no hash): the server answers every /admin/… path with
// index.html, and this module picks the page.

export const BASE = "/admin";

const listeners = new Set();

/** Navigate within the SPA; `replace` rewrites the current history entry. */
export function navigate(path, { replace = false } = {}) {
  const url = new URL(path, window.location.origin);
  if (url.pathname === window.location.pathname && url.search === window.location.search && !replace) {
    notify();
    return;
  }
  if (replace) history.replaceState(null, "", url.pathname + url.search);
  else history.pushState(null, "", url.pathname + url.search);
  notify();
}

/** Change the query string without re-rendering (filters that the page already shows). */
export function setQuery(params) {
  const url = new URL(window.location.href);
  url.search = "";
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  history.replaceState(null, "", url.pathname + url.search);
}

export function onRoute(listener) {
  listeners.add(listener);
}

function notify() {
  for (const listener of listeners) listener(currentLocation());
}

export function currentLocation() {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

/** Match "/admin/archive/:id" style patterns; returns the params or null. */
export function match(pattern, path) {
  const want = pattern.split("/").filter(Boolean);
  const got = path.replace(/\/+$/, "").split("/").filter(Boolean);
  if (want.length !== got.length) return null;
  const params = {};
  for (let i = 0; i < want.length; i += 1) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return null;
  }
  return params;
}

export function startRouter() {
  window.addEventListener("popstate", notify);
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest("a[href]");
    if (!link || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin) return;
    if (url.pathname !== BASE && !url.pathname.startsWith(BASE + "/")) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
}
