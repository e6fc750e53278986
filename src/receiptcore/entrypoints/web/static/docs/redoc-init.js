// Starts ReDoc on /schema and /schema/redoc from the vendored bundle (no inline script: the page's CSP forbids it).
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("redoc");
  window.Redoc.init(root.dataset.spec, { hideDownloadButton: false, theme: { typography: { fontFamily: "system-ui, sans-serif", headings: { fontFamily: "system-ui, sans-serif" } } } }, root);
});
