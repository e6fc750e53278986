"""The web client as the server ships it: the page shell, the assets, the CSP, the local API docs, page images."""

from __future__ import annotations

import io
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from receiptcore.domain import categories
from receiptcore.entrypoints.http.app import create_app
from receiptcore.entrypoints.http.docs_pages import REDOC_DIR, SWAGGER_DIR
from receiptcore.entrypoints.http.security import SCHEMA_CSP, WEB_CSP
from receiptcore.entrypoints.web import PAGE_PATHS, STATIC_DIR
from tests.api.conftest import Api, image_bytes, make_container, make_settings

REPO = Path(__file__).resolve().parents[2]


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside <script>/<style> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in and data.strip():
            self.inline.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def _local_refs(parser: _Tags) -> list[str]:
    refs = [a.get("src") or a.get("href") for t, a in parser.tags if t in ("script", "link", "img")]
    return [r for r in refs if r]


def _pdf(pages: int) -> bytes:
    images = [Image.new("RGB", (200, 300), (255, 255, 255)) for _ in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return out.getvalue()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/login",
        "/receipts",
        "/receipts/0190f0e2-0000-7000-8000-000000000000",
        "/review",
        "/dashboard",
        "/merchants",
        "/merchants/0190f0e2-0000-7000-8000-000000000000",
        "/settings",
        "/admin/users",
        "/admin/roles",
    ],
)
async def test_every_page_path_answers_the_shell_with_the_strict_csp(api: Api, path: str) -> None:
    response = await api.client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == WEB_CSP
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-frame-options"] == "DENY"
    assert '<script type="module" src="/static/app/main.js">' in response.text


def test_page_paths_are_the_ones_the_client_routes() -> None:
    main = (STATIC_DIR / "app" / "main.js").read_text()
    routed = re.findall(r"path: /\^(.*?)\$/", main)
    as_paths = {r.replace("\\/", "/").replace("([0-9a-fA-F-]{1,64})", "{rid:str}") for r in routed}
    assert as_paths == set(PAGE_PATHS)


def test_the_clients_category_suggestions_come_from_the_api() -> None:
    # the review, receipts and merchant pages suggest GET /api/categories (whose bundled part is the map itself:
    # tests/api/test_merchants_api.py), so the client keeps no copy that could fall behind the map
    script = (STATIC_DIR / "app" / "categories.js").read_text()
    assert 'api("/api/categories")' in script
    bundled = tomllib.loads((Path(categories.__file__).parent / "categories.toml").read_text(encoding="utf-8"))
    copied = [name for name in bundled if f'"{name}"' in script]
    assert copied == [], f"categories.js lists bundled categories itself: {copied}"


def test_the_csp_forbids_inline_script_and_other_hosts() -> None:
    directives = dict(d.strip().split(" ", 1) for d in WEB_CSP.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in WEB_CSP
    assert "http" not in WEB_CSP
    assert "unsafe-inline" not in dict(d.strip().split(" ", 1) for d in SCHEMA_CSP.split(";"))["script-src"]


def test_the_shell_has_no_inline_script_style_or_handler() -> None:
    parser = _parse((STATIC_DIR / "index.html").read_text())
    assert parser.inline == []
    for tag, attrs in parser.tags:
        assert "style" not in attrs, tag
        assert not any(name.startswith("on") for name in attrs), tag
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/")
    for ref in _local_refs(parser):
        assert (STATIC_DIR / ref.removeprefix("/static/")).is_file(), ref


def test_the_client_code_names_no_other_host() -> None:
    for path in [*STATIC_DIR.glob("app/**/*"), *STATIC_DIR.glob("docs/*"), STATIC_DIR / "index.html"]:
        if path.is_file():
            text = path.read_text()
            assert not re.search(r"https?://", text.replace("http://www.w3.org/", "")), path
            assert "innerHTML" not in text, path  # built with DOM nodes only


async def test_assets_have_types_etags_and_cache_headers(api: Api) -> None:
    script = await api.client.get("/static/app/main.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "no-cache"
    again = await api.client.get("/static/app/main.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    style = await api.client.get("/static/app/app.css")
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    vendored = await api.client.get("/static/vendor/chart.js-4.6.1/chart.umd.min.js")
    assert vendored.status_code == 200
    assert vendored.headers["cache-control"] == "public, max-age=31536000, immutable"
    icon = await api.client.get("/static/app/icon.svg")
    assert icon.headers["content-type"] == "image/svg+xml"


@pytest.mark.parametrize(
    "path",
    [
        "/static/../pyproject.toml",
        "/static/%2e%2e/routes.py",
        "/static/app/",
        "/static/nothing.js",
        "/static/.hidden",
        "/static/app/%2e%2e/%2e%2e/routes.py",
        "/static/..%2f__init__.py",
    ],
)
async def test_nothing_outside_the_static_folder_is_served(api: Api, path: str) -> None:
    response = await api.client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_api_paths_are_not_shadowed_by_the_client(api: Api) -> None:
    response = await api.client.get("/api/receipts")
    assert response.status_code == 401
    assert (await api.client.get("/receipts/x/file")).status_code == 404


@pytest.mark.parametrize("service", ["auth", "receipts"])
async def test_split_services_do_not_serve_the_client(tmp_path: Path, service: str) -> None:
    from litestar.testing import AsyncTestClient

    app = create_app(make_container(make_settings(tmp_path)), service)
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/static/app/main.js")).status_code == 404


@pytest.mark.parametrize("path", ["/schema", "/schema/redoc", "/schema/swagger"])
async def test_api_docs_load_their_assets_from_the_package(api: Api, path: str) -> None:
    response = await api.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == SCHEMA_CSP
    assert "https://" not in response.text
    parser = _parse(response.text)
    assert parser.inline == []
    refs = _local_refs(parser)
    assert refs
    assert any(r.startswith((SWAGGER_DIR, REDOC_DIR)) for r in refs)
    for ref in refs:
        asset = await api.client.get(ref)
        assert asset.status_code == 200, ref


def test_vendored_bundles_name_no_cdn() -> None:
    for bundle in (STATIC_DIR / "vendor").glob("*/*.js"):
        text = bundle.read_text(errors="replace")
        for cdn in ("cdn.redoc.ly", "cdn.jsdelivr.net", "unpkg.com", "fonts.googleapis.com"):
            assert cdn not in text, (bundle.name, cdn)


def test_the_wheel_ships_the_client() -> None:
    from hatchling.builders.wheel import WheelBuilder

    shipped = {f.distribution_path for f in WheelBuilder(str(REPO)).recurse_included_files()}
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            assert f"receiptcore/{path.relative_to(STATIC_DIR.parents[2]).as_posix()}" in shipped, path


async def test_a_pdf_page_is_rendered_with_its_scale(api: Api) -> None:
    _, headers = await api.user()
    upload = await api.upload(headers, ("two.pdf", _pdf(2)))
    rid = upload.json()["receipts"][0]["id"]
    for page in (1, 2):
        response = await api.client.get(f"/api/receipts/{rid}/pages/{page}", headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        scale = float(response.headers["x-render-scale"])
        image = Image.open(io.BytesIO(response.content))
        assert image.size == (round(200 * scale), round(300 * scale))
    missing = await api.client.get(f"/api/receipts/{rid}/pages/3", headers=headers)
    assert missing.status_code == 404
    assert (await api.client.get(f"/api/receipts/{rid}/pages/0", headers=headers)).status_code == 404


async def test_an_image_has_one_page_and_others_cannot_see_it(api: Api) -> None:
    _, owner = await api.user()
    _, stranger = await api.user()
    content = image_bytes("PNG")
    rid = (await api.upload(owner, ("shop.png", content))).json()["receipts"][0]["id"]
    page = await api.client.get(f"/api/receipts/{rid}/pages/1", headers=owner)
    assert page.status_code == 200
    assert page.content == content
    assert page.headers["x-render-scale"] == "1"
    assert (await api.client.get(f"/api/receipts/{rid}/pages/2", headers=owner)).status_code == 404
    assert (await api.client.get(f"/api/receipts/{rid}/pages/1", headers=stranger)).status_code == 404
    assert (await api.client.get(f"/api/receipts/{rid}/pages/1")).status_code == 401
