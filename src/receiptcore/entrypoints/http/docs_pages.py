"""The API documentation viewers at ``/schema``: Swagger UI and ReDoc served from the package, not from a CDN.

Litestar's own render plugins load their scripts from public CDNs (a blank page on an offline server) and inline
the whole schema in a ``<script>``. These render a small page that loads the vendored bundle and a start-up script
from ``/static/`` (no inline script, so the strict ``SCHEMA_CSP`` holds); the start-up script reads
``/schema/openapi.json``. The versions are the folder names under ``web/static/vendor/`` (see its README).
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin, YamlRenderPlugin

SWAGGER_DIR = "/static/vendor/swagger-ui-dist-5.35.0"
REDOC_DIR = "/static/vendor/redoc-2.5.4"
_ICON = '<link rel="icon" href="/static/app/icon.svg" type="image/svg+xml">'


def _page(title: str, head: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{_ICON}{head}</head><body>{body}</body></html>"
    ).encode()


class LocalSwaggerPlugin(OpenAPIRenderPlugin):
    """Swagger UI from the vendored ``swagger-ui-dist``."""

    def __init__(self, path: str = "/swagger") -> None:
        super().__init__(path=path)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The Swagger UI page (its start-up script fetches the JSON document named in ``data-spec``)."""
        spec = escape(self.get_openapi_json_route(request))
        return _page(
            f"{openapi_schema['info']['title']} API (Swagger UI)",
            f'<link rel="stylesheet" href="{SWAGGER_DIR}/swagger-ui.css">'
            '<link rel="stylesheet" href="/static/docs/docs.css">'
            f'<script src="{SWAGGER_DIR}/swagger-ui-bundle.js" defer></script>'
            '<script src="/static/docs/swagger-init.js" defer></script>',
            f'<main id="swagger-ui" data-spec="{spec}"></main>',
        )


class LocalRedocPlugin(OpenAPIRenderPlugin):
    """ReDoc from the vendored ``redoc`` standalone bundle (system fonts, no web fonts)."""

    def __init__(self, path: tuple[str, ...] = ("/", "/redoc")) -> None:
        super().__init__(path=list(path))

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The ReDoc page (its start-up script fetches the JSON document named in ``data-spec``)."""
        spec = escape(self.get_openapi_json_route(request))
        return _page(
            f"{openapi_schema['info']['title']} API (ReDoc)",
            '<link rel="stylesheet" href="/static/docs/docs.css">'
            f'<script src="{REDOC_DIR}/redoc.standalone.js" defer></script>'
            '<script src="/static/docs/redoc-init.js" defer></script>',
            f'<main id="redoc" data-spec="{spec}"></main>',
        )


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """The viewers and documents under ``/schema`` (``openapi.json`` is always added by Litestar)."""
    return [LocalRedocPlugin(), LocalSwaggerPlugin(), YamlRenderPlugin(path=["/openapi.yaml", "/openapi.yml"])]
