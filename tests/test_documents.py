"""Rendering fetches nothing but bundled assets (CVE-2025-68616), and stored documents are
served only through short-lived signed links."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain.document.pdf import RefusedUrl, asset_path, render_pdf
from domain.document.service import check_signature, download_url, safe_filename
from domain.settings import Settings
from tests.conftest import Api
from tests.document_helpers import (
    download,
    embedded,  # noqa: F401  (fixture)
    given_pregnancy,
    pdf_text,
    render,
    squeeze,
)


class Listener:
    """A real local HTTP server that counts every connection made to it."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.read(4096)
        # Answer every request with a redirect to a local file: a fetcher that
        # followed it would read /etc/passwd.
        writer.write(
            b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    probe = Listener()
    server = await asyncio.start_server(probe._serve, "127.0.0.1", 0)
    probe.port = server.sockets[0].getsockname()[1]
    async with server:
        yield probe


async def test_hostile_remarks_print_as_text_and_fetch_nothing(
    embedded: Api,  # noqa: F811
    listener: Listener,
    tmp_path: Path,
) -> None:
    hostile = [
        '<img src="file:///etc/passwd">',
        f'<link rel="stylesheet" href="http://127.0.0.1:{listener.port}/x">',
        f"<style>@import url(http://127.0.0.1:{listener.port}/y.css);</style>"
        f'<img src="http://127.0.0.1:{listener.port}/z.png">',
    ]
    given = await given_pregnancy(embedded, extra_remarks=hostile)

    job = await render(embedded, given.pregnancy_id)

    assert job["status"] == "SUCCEEDED", job
    text = pdf_text(await download(embedded, job["downloadUrl"]), tmp_path)
    for remark in hostile:
        assert squeeze(remark) in squeeze(text), remark
    assert "root:x:0:0" not in text
    assert listener.connections == 0


async def test_the_fetcher_refuses_urls_even_in_unescaped_markup(
    listener: Listener, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{listener.port}"
    html = f"""<!DOCTYPE html><html><head>
      <link rel="stylesheet" href="mhub-asset:document.css">
      <link rel="stylesheet" href="{base}/a.css">
      <style>
        @import url({base}/b.css);
        @font-face {{ font-family: Evil; src: url({base}/font.woff2); }}
        body {{ background: url(file:///etc/passwd); }}
      </style></head>
      <body><p style="font-family: Evil">黄丽萍</p>
      <img src="file:///etc/passwd"><img src="{base}/c.png"><img src="relative.png">
      <img src="mhub-asset:../../../../etc/passwd"><iframe src="{base}/d.html"></iframe>
      <object data="file:///etc/shadow"></object></body></html>"""

    pdf = await asyncio.to_thread(render_pdf, html, base_url=f"{base}/")

    assert listener.connections == 0
    text = pdf_text(pdf, tmp_path)
    assert "黄丽萍" in text
    # The footer comes from the bundled stylesheet: bundled assets are served.
    assert "第 1 页 / 共 1 页" in text
    assert "root:" not in text


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://127.0.0.1/x.css",
        "https://example.com/x.css",
        "data:text/css,body{}",
        "mhub-asset:../pdf.py",
        "mhub-asset:/etc/passwd",
        "mhub-asset:%2e%2e%2fpdf.py",
        "mhub-asset:.hidden",
        "mhub-asset:missing.css",
    ],
)
def test_only_bundled_asset_names_resolve(url: str) -> None:
    with pytest.raises(RefusedUrl):
        asset_path(url)


def test_a_bundled_asset_resolves_inside_the_asset_folder() -> None:
    path = asset_path("mhub-asset:document.css")

    assert path.name == "document.css"
    assert path.parent.name == "assets"


async def test_download_links_are_signed_short_lived_and_per_document(
    embedded: Api,  # noqa: F811
) -> None:
    given = await given_pregnancy(embedded)
    job = await render(embedded, given.pregnancy_id)
    url = job["downloadUrl"]
    document_id = job["result"]["documentId"]
    path, _, query = url.partition("?")
    exp = query.split("&")[0].removeprefix("exp=")
    sig = query.split("&")[1].removeprefix("sig=")

    assert path == f"/documents/{document_id}"
    assert 0 < int(exp) - time.time() <= 300
    assert len(await download(embedded, url)) == job["result"]["size"]
    tampered = await embedded.client.get(f"{path}?exp={int(exp) + 3600}&sig={sig}")
    assert (tampered.status_code, tampered.json()) == (403, {"error": "下载链接无效"})
    other = await embedded.client.get(f"/documents/{document_id + 1}?exp={exp}&sig={sig}")
    assert other.status_code == 403
    unsigned = await embedded.client.get(path)
    assert unsigned.status_code == 403
    missing = await embedded.client.get(download_url(embedded.services.settings, 987_654))
    assert (missing.status_code, missing.json()) == (404, {"error": "文件不存在"})


def test_an_expired_link_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="sqlite://", secret_key="k")
    url = download_url(settings, 5, ttl_s=60)
    exp, sig = (part.partition("=")[2] for part in url.partition("?")[2].split("&"))

    assert check_signature(settings, 5, exp, sig, now=int(exp) - 1) is None
    assert check_signature(settings, 5, exp, sig, now=int(exp) + 1) == "下载链接已过期，请重新获取"
    other_key = Settings(data_dir=tmp_path, database_url="sqlite://", secret_key="other")
    assert check_signature(other_key, 5, exp, sig, now=int(exp) - 1) == "下载链接无效"


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("母子健康手册-韦春燕-4501.pdf", "母子健康手册-韦春燕-4501.pdf"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ('a\\b:c*d?"e<f>g|h\x00.pdf', "a_b_c_d__e_f_g_h_.pdf"),
        ("...", "document"),
    ],
)
def test_stored_file_names_are_one_path_component(name: str, safe: str) -> None:
    assert safe_filename(name) == safe
