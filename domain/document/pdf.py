"""HTML → PDF with weasyprint, fetching nothing but the project's bundled assets.

Weasyprint follows every URL a document names (images, stylesheets, fonts) with a
fetcher that by default reads `file://` paths and the network and follows
redirects (CVE-2025-68616). Documents here contain text that people typed, so the
fetcher below answers only `mhub-asset:<name>` from the bundled `templates/assets`
folder and refuses every other URL before any I/O. Fonts come from fontconfig by
family name, which involves no URL at all.

`render_pdf` is synchronous and CPU-bound: call it in a process pool
(`domain.job.pool.RenderPool`), never on the event loop.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
ASSET_DIR = TEMPLATE_DIR / "assets"
ASSET_SCHEME = "mhub-asset:"

log = logging.getLogger(__name__)


class RefusedUrl(ValueError):
    """A document named a URL that is not a bundled asset; nothing was fetched."""


def asset_path(url: str) -> Path:
    """The bundled file a `mhub-asset:` URL names, or RefusedUrl."""
    if not url.startswith(ASSET_SCHEME):
        raise RefusedUrl(f"只允许内置资源，拒绝读取：{url[:200]}")
    name = url[len(ASSET_SCHEME) :].lstrip("/")
    # A plain file name only: no directories, so no way out of the asset folder.
    if not name or "/" in name or "\\" in name or name.startswith(".") or "%" in name:
        raise RefusedUrl(f"内置资源名称无效：{url[:200]}")
    path = ASSET_DIR / name
    if not path.is_file():
        raise RefusedUrl(f"内置资源不存在：{name}")
    return path


def _fetcher() -> Any:
    from weasyprint.urls import (  # type: ignore[import-untyped]  # weasyprint ships no types
        URLFetcher,
        URLFetcherResponse,
    )

    class BundledAssetFetcher(URLFetcher):  # type: ignore[misc]  # weasyprint is untyped
        """Serves `mhub-asset:` names from the asset folder; refuses everything else."""

        def __init__(self) -> None:
            # No protocol is allowed to the parent class: even if `fetch` below were
            # bypassed, urllib would refuse file, http(s), ftp and data alike.
            super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)

        def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
            try:
                path = asset_path(url)
            except RefusedUrl:
                log.warning("refused URL in a rendered document", extra={"url": url[:200]})
                raise
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(
                url, body=path.read_bytes(), headers={"Content-Type": media_type}
            )

        def open(self, url: Any, data: Any = None, timeout: Any = None) -> Any:
            return self.fetch(url if isinstance(url, str) else str(url.full_url))

    return BundledAssetFetcher()


@dataclass(frozen=True)
class RenderedPdf:
    """A rendered PDF with what the render cost (measured in the rendering process)."""

    pdf: bytes
    pages: int
    seconds: float
    # Peak resident memory of the rendering process so far (ru_maxrss), in KiB.
    peak_rss_kib: int


def render_pdf_document(html: str, *, base_url: str | None = None) -> RenderedPdf:
    """Render HTML to PDF, also returning the page count, time and peak memory."""
    from weasyprint import HTML  # type: ignore[import-untyped]  # weasyprint ships no types

    started = time.perf_counter()
    document = HTML(string=html, base_url=base_url or ASSET_SCHEME, url_fetcher=_fetcher())
    rendered = document.render()
    pdf: bytes = rendered.write_pdf()
    return RenderedPdf(
        pdf=pdf,
        pages=len(rendered.pages),
        seconds=time.perf_counter() - started,
        peak_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render an HTML document to PDF bytes; only `mhub-asset:` URLs are ever read.

    `base_url` is used to resolve relative URLs; whatever they resolve to still
    goes through the same fetcher, so it cannot widen what is read.
    """
    return render_pdf_document(html, base_url=base_url).pdf


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    # Every value is escaped, whatever the template's file name: remarks are user text.
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _day(value: dt.date | None) -> str:
    """Dates print as 2024-03-01; a missing date prints nothing."""
    return value.isoformat() if value is not None else ""


def _filesize(value: object) -> str:
    """Bytes as MB/GB for people, with the exact byte count beside it."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    size = float(value)
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}（{int(size)} 字节）"
    return f"{int(size)} 字节"


_environment.filters["day"] = _day
_environment.filters["filesize"] = _filesize


def render_template(name: str, **context: object) -> str:
    """Fill an HTML template (autoescaped) from `templates/`."""
    return _environment.get_template(name).render(**context)
