"""Self-hosted GraphiQL page for the MaternityHub GraphQL endpoint.

Strawberry's built-in GraphiQL page pulls React, ReactDOM and GraphiQL from a
public CDN (unpkg.com). MaternityHub runs inside hospital networks and on
workstations with no internet access, where that page would stay blank. The
page built here therefore loads every script and stylesheet from the project's
own copy under ``api/static/graphiql/`` (see ``VERSIONS.txt`` there for the
exact npm packages, versions and source paths), served at ``static_prefix``.

The page needs no network beyond the MaternityHub server itself:

* GraphiQL's fonts are embedded in its CSS as ``data:`` URLs;
* queries are POSTed as JSON to ``endpoint`` with ``credentials: "same-origin"``;
* when the ``mhub_csrf`` cookie exists its value is sent as ``X-CSRF-Token``
  (the server requires it on cookie-authenticated POSTs), read afresh for each
  request so a token issued after the page loaded is still picked up;
* the headers editor is enabled so a user can paste
  ``{"Authorization": "Bearer …"}``. Headers are not persisted to
  ``localStorage``, so a pasted token does not outlive the browser tab.

Every value put into the HTML is escaped: ``html.escape`` for attributes and
text, and JSON with ``<``, ``>``, ``&`` turned into ``\\uXXXX`` escapes for the
inline script, so no value can close the ``<script>`` element.
"""

from __future__ import annotations

import html
import json

__all__ = ["CSRF_COOKIE_NAME", "CSRF_HEADER_NAME", "graphiql_page"]

CSRF_COOKIE_NAME = "mhub_csrf"
CSRF_HEADER_NAME = "X-CSRF-Token"

_PAGE_TITLE = "MaternityHub GraphQL"

_DEFAULT_QUERY = """# MaternityHub GraphQL 调试台
#
# 在左侧编写查询，按 Ctrl-Enter（或点击运行按钮）执行。
# 需要令牌时，在下方“Headers”中填写：
#   {"Authorization": "Bearer <令牌>"}
#
{
  __typename
}
"""

# The bootstrap script is static; per-page values arrive through ``config``.
_BOOTSTRAP_JS = """
(function () {
  "use strict";
  var config = %(config)s;

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i].trim();
      var eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq) === name) {
        try {
          return decodeURIComponent(part.slice(eq + 1));
        } catch (e) {
          return part.slice(eq + 1);
        }
      }
    }
    return null;
  }

  function toWebSocketUrl(url) {
    var parsed = new URL(url, window.location.href);
    if (parsed.protocol === "http:") {
      parsed.protocol = "ws:";
    } else if (parsed.protocol === "https:") {
      parsed.protocol = "wss:";
    }
    parsed.hash = "";
    return parsed.toString();
  }

  function sameOriginFetch(url, init) {
    var options = Object.assign({}, init || {});
    var headers = Object.assign({}, options.headers || {});
    var csrf = readCookie(config.csrfCookie);
    if (csrf) {
      headers[config.csrfHeader] = csrf;
    }
    options.headers = headers;
    options.credentials = "same-origin";
    return window.fetch(url, options);
  }

  var fetcherOptions = {
    url: new URL(config.endpoint, window.location.href).toString(),
    fetch: sameOriginFetch
  };
  if (config.subscriptionsEndpoint) {
    fetcherOptions.subscriptionUrl = toWebSocketUrl(config.subscriptionsEndpoint);
  }
  var fetcher = GraphiQL.createFetcher(fetcherOptions);

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.defaultQuery,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
      inputValueDeprecation: true
    })
  );
})();
"""

_PAGE_TEMPLATE = """<!doctype html>
<html lang="zh-CN">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="robots" content="noindex" />
    <title>%(title)s</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="%(prefix)s/graphiql.min.css" />
    <style>
      html, body { height: 100%%; margin: 0; width: 100%%; overflow: hidden; }
      #graphiql { height: 100vh; display: flex; }
    </style>
  </head>
  <body>
    <div id="graphiql" class="graphiql-container">正在加载 GraphiQL…</div>
    <noscript>GraphiQL 需要启用 JavaScript。</noscript>
    <script src="%(prefix)s/react.production.min.js"></script>
    <script src="%(prefix)s/react-dom.production.min.js"></script>
    <script src="%(prefix)s/graphiql.min.js"></script>
    <script>%(bootstrap)s</script>
  </body>
</html>
"""


def _js_literal(value: object) -> str:
    """Serialise ``value`` as a JS literal that is safe inside ``<script>``.

    ``json.dumps`` (ASCII-only, so U+2028/U+2029 are escaped too) plus
    ``\\uXXXX`` escapes for ``<``, ``>`` and ``&``: no ``</script>``, ``<!--``
    or ``]]>`` sequence can appear in the output.
    """
    text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def graphiql_page(
    endpoint: str,
    static_prefix: str,
    subscriptions_endpoint: str | None = None,
) -> str:
    """Return the complete GraphiQL HTML page, with every asset loaded locally.

    ``endpoint`` is the GraphQL HTTP URL (absolute or relative to the page) that
    queries are POSTed to. ``static_prefix`` is the URL under which the files of
    ``api/static/graphiql/`` are served, e.g. ``"/static/graphiql"`` (a trailing
    slash is ignored). ``subscriptions_endpoint``, when given, is used for
    subscription operations over the graphql-transport-ws protocol; an
    ``http(s)`` or relative URL is turned into ``ws(s)`` in the browser.
    """
    prefix = static_prefix.rstrip("/")
    config: dict[str, object] = {
        "endpoint": endpoint,
        "subscriptionsEndpoint": subscriptions_endpoint,
        "csrfCookie": CSRF_COOKIE_NAME,
        "csrfHeader": CSRF_HEADER_NAME,
        "defaultQuery": _DEFAULT_QUERY,
    }
    bootstrap = _BOOTSTRAP_JS % {"config": _js_literal(config)}
    return _PAGE_TEMPLATE % {
        "title": html.escape(_PAGE_TITLE),
        "prefix": html.escape(prefix, quote=True),
        "bootstrap": bootstrap,
    }
