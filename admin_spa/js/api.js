// The only way in: GraphQL over HTTP (and graphql-ws for live updates), plus /auth for the session.
//
// The session cookie is HttpOnly; the CSRF token is in the readable `mhub_csrf` cookie and
// must be echoed in the X-CSRF-Token header on every POST (double submit).

const CSRF_COOKIE = "mhub_csrf";
const CSRF_HEADER = "X-CSRF-Token";
const ENDPOINT = "/graphql";

let sessionExpired = () => {};

/** Called when the server says the session is gone (the app shows the login form). */
export function onSessionExpired(handler) {
  sessionExpired = handler;
}

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** An error the user can act on: `message` says what happened and what to do. */
export class ApiError extends Error {
  constructor(message, { code = "ERROR", errors = [], requestId = null } = {}) {
    super(message);
    this.code = code;
    this.errors = errors;
    this.requestId = requestId;
  }
}

function describe(error, requestId) {
  const code = error.extensions && error.extensions.code;
  const message = error.message || "";
  const missing = /^Cannot query field ['"](\w+)['"] on type ['"](\w+)['"]/.exec(message)
    || /^Unknown argument ['"](\w+)['"]/.exec(message)
    || /^Unknown type ['"](\w+)['"]/.exec(message);
  if (missing) {
    return new ApiError(
      `服务器暂未提供此功能（缺少接口 ${missing[1]}${missing[2] ? "，类型 " + missing[2] : ""}）。请升级服务器版本后再试，或联系信息科。`,
      { code: "NOT_AVAILABLE", errors: [error], requestId },
    );
  }
  if (code === "UNAUTHENTICATED") {
    return new ApiError("登录已过期，请重新登录。", { code, errors: [error], requestId });
  }
  if (code === "FORBIDDEN") {
    return new ApiError(`${message}。如需使用，请联系系统管理员分配相应角色。`, { code, errors: [error], requestId });
  }
  if (code === "INTERNAL_SERVER_ERROR" || /request id|请求编号/i.test(message)) {
    return new ApiError(`服务器内部错误：${message}。请稍后重试；如果一再出现，请把这条信息告诉信息科。`, { code: "INTERNAL", errors: [error], requestId });
  }
  return new ApiError(message || "请求失败，请重试。", { code: code || "ERROR", errors: [error], requestId });
}

/** POST a GraphQL document; returns { data, errors, requestId } without judging the errors. */
export async function gqlRaw(query, variables = {}, { signal } = {}) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", [CSRF_HEADER]: csrfToken() },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError("无法连接服务器。请检查网络连接，稍后点“重试”。", { code: "NETWORK" });
  }
  const requestId = response.headers.get("x-request-id");
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`服务器返回了无法识别的内容（HTTP ${response.status}）。请稍后重试或联系信息科。`, { code: "BAD_RESPONSE", requestId });
  }
  if (response.status === 403 && body && body.errors) {
    const first = body.errors[0] || {};
    throw new ApiError(first.message || "请求被拒绝，请刷新页面后重试。", { code: (first.extensions || {}).code || "FORBIDDEN", requestId });
  }
  if (!response.ok && !(body && (body.data || body.errors))) {
    throw new ApiError(`服务器错误（HTTP ${response.status}）。请稍后重试。`, { code: "HTTP", requestId });
  }
  return { data: body.data || null, errors: body.errors || [], requestId };
}

// Partial data with these codes is still shown (e.g. the EMR is down: diagnoses are missing).
const TOLERATED = new Set(["UPSTREAM_UNAVAILABLE"]);

/**
 * The data of a GraphQL request. Throws an ApiError for any error except tolerated ones,
 * which are passed to `onWarning` (so a page can say which part is missing).
 */
export async function gql(query, variables = {}, { signal, onWarning } = {}) {
  const { data, errors, requestId } = await gqlRaw(query, variables, { signal });
  const fatal = errors.filter((e) => !TOLERATED.has((e.extensions || {}).code));
  if (fatal.length || !data) {
    const error = describe(fatal[0] || errors[0] || { message: "服务器没有返回数据" }, requestId);
    if (error.code === "UNAUTHENTICATED") sessionExpired();
    throw error;
  }
  if (errors.length && onWarning) onWarning(errors.map((e) => e.message));
  return data;
}

export async function session() {
  const response = await fetch("/auth/session", { credentials: "same-origin" });
  if (!response.ok) throw new ApiError("无法读取登录状态，请刷新页面。", { code: "HTTP" });
  return response.json();
}

export async function login(username, password) {
  let response;
  try {
    response = await fetch("/auth/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
  } catch {
    throw new ApiError("无法连接服务器。请检查网络连接后重试。", { code: "NETWORK" });
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(body.error || "登录失败，请重试。", { code: "LOGIN_FAILED" });
  return body;
}

export async function logout() {
  await fetch("/auth/logout", {
    method: "POST",
    credentials: "same-origin",
    headers: { [CSRF_HEADER]: csrfToken() },
  });
}

/**
 * A GraphQL subscription over WebSocket (graphql-transport-ws). The session cookie
 * authenticates the socket. Returns a function that stops it.
 * `onFallback` is called once when the socket cannot be used (the caller then polls).
 */
export function subscribe(query, variables, { onNext, onFallback, onConnected, onComplete }) {
  const url = new URL(ENDPOINT, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  let socket;
  let stopped = false;
  let acknowledged = false;
  let fellBack = false;
  const fallBack = (reason) => {
    if (fellBack || stopped) return;
    fellBack = true;
    onFallback && onFallback(reason);
  };
  try {
    socket = new WebSocket(url.toString(), "graphql-transport-ws");
  } catch {
    fallBack("无法建立 WebSocket 连接");
    return () => {};
  }
  const timer = setTimeout(() => {
    if (!acknowledged) {
      fallBack("WebSocket 连接超时");
      socket.close();
    }
  }, 5000);
  // The server may send its JSON in binary frames; decode both kinds.
  socket.binaryType = "arraybuffer";
  const decoder = new TextDecoder();
  socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: {} })));
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(typeof event.data === "string" ? event.data : decoder.decode(event.data));
    } catch {
      return;
    }
    if (message.type === "connection_ack") {
      acknowledged = true;
      clearTimeout(timer);
      socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables } }));
      onConnected && onConnected();
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "next") {
      const payload = message.payload || {};
      if (payload.errors && payload.errors.length && !payload.data) {
        fallBack(payload.errors[0].message);
        socket.close();
      } else {
        onNext(payload.data);
      }
    } else if (message.type === "error") {
      fallBack((message.payload && message.payload[0] && message.payload[0].message) || "订阅被拒绝");
      socket.close();
    } else if (message.type === "complete") {
      // The server ended the subscription (e.g. the job finished): not a failure.
      fellBack = true;
      socket.close();
      onComplete && onComplete();
    }
  });
  socket.addEventListener("close", () => {
    clearTimeout(timer);
    fallBack("WebSocket 连接已断开");
  });
  socket.addEventListener("error", () => fallBack("WebSocket 连接出错"));
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (socket.readyState === WebSocket.OPEN) {
      try { socket.send(JSON.stringify({ id: "1", type: "complete" })); } catch { /* closing anyway */ }
    }
    socket.close();
  };
}
