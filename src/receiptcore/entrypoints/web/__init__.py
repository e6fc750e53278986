"""The web client: a build-free browser app (HTML, CSS, JavaScript modules) shipped in ``static/``.

``web_handlers()`` serves it from the package: the single-page shell ``index.html`` at every page path of the
client (so bookmarks, reloads and back/forward work) and the assets under ``/static/``. The client talks only to
the public REST API; nothing here reads user data. docs/web.md describes the pages.
"""

from __future__ import annotations

from receiptcore.entrypoints.web.routes import PAGE_PATHS, STATIC_DIR, STATIC_PREFIX, web_handlers

__all__ = ["PAGE_PATHS", "STATIC_DIR", "STATIC_PREFIX", "web_handlers"]
