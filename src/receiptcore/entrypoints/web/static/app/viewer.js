// The receipt image beside the fields: zoom, rotate, PDF pages (rendered by the server), and the provenance boxes
// (the extractor's source box per field). Focusing a field outlines its box; clicking a box focuses its field.
import { api } from "./api.js";
import { h, mount } from "./dom.js";

export function createViewer(receipt, { onBoxClick }) {
  const pages = Math.max(1, receipt.source.pages || 1);
  const isPdf = receipt.source.media_type === "application/pdf";
  let page = 1;
  let zoom = 1;
  let rotation = 0;
  let scale = 1; // image pixels per provenance unit (PDF boxes are in page points)
  let urls = [];
  const img = h("img", { alt: `Receipt ${receipt.source.filename}, page 1`, draggable: "false" });
  const sheet = h("div", { class: "sheet" }, img);
  const stage = h("div", { class: "stage", tabindex: "0", role: "region", "aria-label": "Receipt image" }, sheet);
  const pageLabel = h("span", { class: "label", "aria-live": "polite" });
  const zoomLabel = h("span", { class: "label" });
  const boxes = new Map(); // field path → box element

  const apply = () => {
    sheet.style.width = `${Math.round(zoom * 100)}%`;
    sheet.style.transform = rotation ? `rotate(${rotation}deg)` : "";
    zoomLabel.textContent = `${Math.round(zoom * 100)}%`;
    pageLabel.textContent = pages > 1 ? `Page ${page} of ${pages}` : "";
    prev.disabled = page <= 1;
    next.disabled = page >= pages;
  };
  const button = (label, text, onclick) => h("button", { class: "button small", type: "button", "aria-label": label, title: label, onclick }, text);
  const prev = button("Previous page", "‹", () => show(page - 1));
  const next = button("Next page", "›", () => show(page + 1));
  const tools = h("div", { class: "viewer-tools", role: "toolbar", "aria-label": "Image tools" },
    button("Zoom out", "−", () => { zoom = Math.max(0.5, zoom / 1.25); apply(); }),
    zoomLabel,
    button("Zoom in", "+", () => { zoom = Math.min(5, zoom * 1.25); apply(); }),
    button("Fit to width", "Fit", () => { zoom = 1; apply(); }),
    button("Rotate clockwise", "⟳", () => { rotation = (rotation + 90) % 360; apply(); }),
    pages > 1 ? [prev, pageLabel, next] : null);

  const drawBoxes = () => {
    for (const el of boxes.values()) el.remove();
    boxes.clear();
    const width = img.naturalWidth;
    const height = img.naturalHeight;
    if (!width || !height) return;
    for (const [path, source] of Object.entries(receipt.provenance || {})) {
      if (!source.box || (source.page || 1) !== page) continue;
      const [x0, y0, x1, y1] = source.box.map((v) => v * scale);
      const el = h("button", { class: "pbox", type: "button", tabindex: "-1", "aria-label": `Source of ${path.replaceAll(".", " ")}`, dataset: { field: path },
        onclick: () => onBoxClick(path) });
      el.style.left = `${(x0 / width) * 100}%`;
      el.style.top = `${(y0 / height) * 100}%`;
      el.style.width = `${(Math.max(1, x1 - x0) / width) * 100}%`;
      el.style.height = `${(Math.max(1, y1 - y0) / height) * 100}%`;
      sheet.append(el);
      boxes.set(path, el);
    }
  };
  img.addEventListener("load", drawBoxes);

  async function show(number) {
    page = Math.min(Math.max(1, number), pages);
    apply();
    const path = isPdf ? `/api/receipts/${receipt.id}/pages/${page}` : `/api/receipts/${receipt.id}/file`;
    try {
      const response = await api(path, { raw: true, headers: { Accept: "image/*" } });
      scale = isPdf ? Number.parseFloat(response.headers.get("X-Render-Scale") || "1") : 1;
      const url = URL.createObjectURL(await response.blob());
      urls.push(url);
      img.src = url;
      img.alt = `Receipt ${receipt.source.filename}${pages > 1 ? `, page ${page} of ${pages}` : ""}`;
    } catch (error) {
      mount(sheet, h("p", { class: "notice" }, `The image cannot be shown: ${error.message}`));
    }
  }

  /** Outline the box of a field (and scroll it into view); null clears. */
  function highlight(path) {
    for (const el of boxes.values()) el.classList.remove("active");
    if (!path) return;
    const source = receipt.provenance && receipt.provenance[path];
    if (source && source.box && (source.page || 1) !== page) {
      show(source.page).then(() => img.decode().then(() => highlight(path)).catch(() => {}));
      return;
    }
    const el = boxes.get(path);
    if (el) {
      el.classList.add("active");
      el.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  }

  show(1);
  return {
    element: h("section", { class: "viewer", "aria-label": "Original receipt" }, tools, stage),
    highlight,
    destroy: () => { urls.forEach((u) => URL.revokeObjectURL(u)); urls = []; },
  };
}
