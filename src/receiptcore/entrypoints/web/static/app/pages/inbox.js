// / (Inbox): drop zone, file picker, phone camera; each file's progress and live status; the latest receipts; the
// count waiting for review. A file that fails stays here with its reason and a retry button.
import { api, ApiError, explain, query } from "../api.js";
import { announce, formatDate, formatTimestamp, h, mount, statusBadge } from "../dom.js";
import { onReceiptEvent } from "../events.js";
import { formatMoney } from "../money.js";
import { session } from "../session.js";
import { ACCEPT, uploadFile } from "../upload.js";

const RETRYABLE = (error) => !(error instanceof ApiError) || error.status === 0 || error.status >= 500 || error.status === 429 || error.status === 401;
// uploads in progress survive navigating away and back (not a reload); they belong to the person signed in
const uploads = [];
let uploadsOf = null;

function receiptLine(receipt) {
  const name = (receipt.merchant && receipt.merchant.name) || (receipt.source && receipt.source.filename) || "Receipt";
  const bits = [formatDate(receipt.purchase_date), receipt.total ? formatMoney(receipt.total, receipt.currency) : null].filter(Boolean);
  return { name, detail: bits.join(" · ") };
}

export async function render(main) {
  if (uploadsOf !== session.user.id) {
    uploads.length = 0;
    uploadsOf = session.user.id;
  }
  const list = h("ul", { class: "upload-list", "aria-label": "Uploads in this session" });
  const latest = h("ul", { class: "receipt-cards", "aria-label": "Latest receipts" });
  const reviewCount = h("a", { class: "review-count", href: "/review" });
  const picker = h("input", { type: "file", multiple: true, accept: ACCEPT, class: "visually-hidden", id: "file-picker" });
  const camera = h("input", { type: "file", accept: "image/*", capture: "environment", class: "visually-hidden", id: "camera-picker" });
  const drop = h("div", { class: "dropzone", id: "dropzone" },
    h("p", { class: "drop-title" }, "Drop receipts here"),
    h("p", { class: "hint" }, "Photos or scans (JPEG, PNG, WebP) and PDFs, up to 20 at a time."),
    h("div", { class: "drop-actions" },
      h("label", { class: "button primary", for: "file-picker" }, "Choose files"),
      h("label", { class: "button camera", for: "camera-picker" }, "Take a photo")),
    picker, camera);
  let leaving = false;

  const drawUpload = (item) => {
    const progress = item.state === "uploading"
      ? h("progress", { max: 100, value: Math.round(item.progress * 100), "aria-label": `Upload of ${item.file.name}` })
      : null;
    const receipt = item.receipt;
    const status = receipt ? statusBadge(receipt.status) : h("span", { class: ["badge", item.state === "error" ? "status-failed" : "status-pending"] },
      item.state === "error" ? "Not uploaded" : item.state === "uploading" ? `Uploading ${Math.round(item.progress * 100)}%` : "Queued");
    const line = receipt ? receiptLine(receipt) : { name: item.file.name, detail: "" };
    const notes = [];
    if (item.duplicate) notes.push(h("p", { class: "note" }, `Already in your vault (uploaded ${formatTimestamp(receipt.created_at)}); nothing was stored twice.`));
    if (item.error) notes.push(h("p", { class: "note error" }, item.error));
    if (receipt && receipt.status === "failed" && receipt.extraction && receipt.extraction.error) {
      notes.push(h("p", { class: "note error" }, `Could not read it: ${receipt.extraction.error}`));
    }
    if (receipt && receipt.status === "needs_review" && receipt.warnings.length) {
      notes.push(h("p", { class: "note" }, `Needs a look: ${receipt.warnings.map((w) => w.detail).join("; ")}`));
    }
    const actions = [];
    if (item.state === "error" && item.retryable) actions.push(h("button", { class: "button", type: "button", onclick: () => start(item) }, "Retry"));
    if (item.state === "error") actions.push(h("button", { class: "button quiet", type: "button", onclick: () => { uploads.splice(uploads.indexOf(item), 1); item.el.remove(); } }, "Dismiss"));
    if (receipt && receipt.status === "failed") actions.push(h("button", { class: "button", type: "button", onclick: () => reextract(item) }, "Try again"));
    if (receipt && !["pending", "processing"].includes(receipt.status)) actions.push(h("a", { class: "button", href: `/receipts/${receipt.id}` }, receipt.status === "needs_review" ? "Review" : "Open"));
    const el = h("li", { class: ["upload", `state-${item.state}`], dataset: { receiptId: receipt ? receipt.id : "" } },
      h("div", { class: "upload-main" },
        h("span", { class: "upload-name" }, line.name),
        line.detail ? h("span", { class: "upload-detail" }, line.detail) : null,
        receipt && line.name !== item.file.name ? h("span", { class: "upload-file" }, item.file.name) : null),
      status, progress, h("div", { class: "upload-notes" }, notes), h("div", { class: "upload-actions" }, actions));
    if (item.el && item.el.parentNode) item.el.replaceWith(el);
    else list.prepend(el);
    item.el = el;
  };

  const start = async (item) => {
    item.state = "uploading";
    item.progress = 0;
    item.error = null;
    drawUpload(item);
    try {
      const receipt = await uploadFile(item.file, item.key, (fraction) => {
        item.progress = fraction;
        const bar = item.el && item.el.querySelector("progress");
        if (bar) bar.value = Math.round(fraction * 100);
      });
      item.receipt = receipt;
      item.duplicate = !!receipt.duplicate;
      item.state = "done";
      announce(item.duplicate ? `${item.file.name} was already uploaded` : `${item.file.name} uploaded, reading it now`);
      refreshLatest();
    } catch (error) {
      item.state = "error";
      item.retryable = RETRYABLE(error);
      item.error = error instanceof ApiError && [413, 415, 422].includes(error.status)
        ? `Refused: ${error.message}`
        : `Upload failed: ${explain(error)}`;
      announce(`${item.file.name}: ${item.error}`);
    }
    if (!leaving) drawUpload(item);
  };

  const reextract = async (item) => {
    try {
      item.receipt = await api(`/api/receipts/${item.receipt.id}/reextract`, { method: "POST" });
      drawUpload(item);
    } catch (error) {
      item.error = explain(error);
      drawUpload(item);
    }
  };

  const addFiles = (files) => {
    for (const file of files) {
      const item = { file, key: crypto.randomUUID(), state: "queued", progress: 0 };
      uploads.push(item);
      drawUpload(item);
    }
    announce(`${files.length} file${files.length === 1 ? "" : "s"} added`);
    // two at a time: the phone's connection is shared, the server queues the work anyway
    const queue = uploads.filter((u) => u.state === "queued");
    const worker = async () => { for (let next = queue.shift(); next; next = queue.shift()) await start(next); };
    worker(); worker();
  };

  picker.addEventListener("change", () => { addFiles([...picker.files]); picker.value = ""; });
  camera.addEventListener("change", () => { addFiles([...camera.files]); camera.value = ""; });
  for (const type of ["dragenter", "dragover"]) drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  drop.addEventListener("drop", (e) => { if (e.dataTransfer && e.dataTransfer.files.length) addFiles([...e.dataTransfer.files]); });

  let latestItems = [];
  const drawLatest = () => {
    if (!latestItems.length) {
      mount(latest, h("li", { class: "empty" }, "No receipts yet. Drop a photo or a PDF above; it is read in a few seconds and appears here."));
      return;
    }
    mount(latest, latestItems.map((receipt) => {
      const line = receiptLine(receipt);
      return h("li", { dataset: { receiptId: receipt.id } },
        h("a", { class: "receipt-card", href: `/receipts/${receipt.id}` },
          h("span", { class: "card-name" }, line.name),
          h("span", { class: "card-detail" }, line.detail || formatTimestamp(receipt.created_at)),
          statusBadge(receipt.status)));
    }));
  };
  const refreshCount = async () => {
    try {
      const stats = await api(`/api/stats${query({ status: "needs_review" })}`);
      const n = stats.receipt_count;
      reviewCount.textContent = n ? `${n} receipt${n === 1 ? "" : "s"} waiting for review →` : "Nothing waiting for review";
      reviewCount.classList.toggle("calm", !n);
    } catch { reviewCount.textContent = ""; }
  };
  const refreshLatest = async () => {
    try {
      latestItems = (await api(`/api/receipts${query({ limit: 8 })}`)).items;
      if (!leaving) { drawLatest(); refreshCount(); }
    } catch { /* the list stays as it was */ }
  };

  const off = onReceiptEvent(async (event) => {
    if (event.type === "resync") { refreshLatest(); return; }
    const id = event.payload && event.payload.id;
    if (!id) return;
    const item = uploads.find((u) => u.receipt && u.receipt.id === id);
    if (event.type === "receipt.deleted") {
      if (item) { uploads.splice(uploads.indexOf(item), 1); item.el.remove(); }
      refreshLatest();
      return;
    }
    try {
      const receipt = await api(`/api/receipts/${id}`);
      if (item && !leaving) {
        item.receipt = receipt;
        drawUpload(item);
        if (["extracted", "needs_review", "failed"].includes(receipt.status)) announce(`${receiptLine(receipt).name}: ${receipt.status.replace("_", " ")}`);
      }
    } catch { /* gone or not ours */ }
    refreshLatest();
  });

  mount(main,
    h("div", { class: "page inbox" },
      h("div", { class: "page-head" }, h("h1", { class: "page-title", tabindex: "-1" }, "Inbox"), reviewCount),
      drop,
      list,
      h("h2", {}, "Latest receipts"),
      latest));
  for (const item of uploads) { item.el = null; drawUpload(item); }
  await refreshLatest();
  return { leave: () => { leaving = true; off(); } };
}
