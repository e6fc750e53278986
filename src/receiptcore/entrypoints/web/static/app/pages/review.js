// /receipts/{id} and /review: the image beside the fields. Keyboard first: j/k move between fields, Enter edits,
// Esc cancels, Ctrl+Enter saves, confirms and opens the next receipt of the review queue, ? lists the shortcuts.
// Edits go out with the version (If-Match); a conflict shows both values and lets the person choose.
import { api, ApiError, download, explain, query } from "../api.js";
import { announce, confirmDialog, dialog, formatTimestamp, h, mount, statusBadge, toast } from "../dom.js";
import { onReceiptEvent } from "../events.js";
import { FIELDS, TABLES, editableTable, fromText, getPath, sameValue, toText } from "../review-fields.js";
import { categoryList, categoryOrigin, merchantOrigin, nameKey } from "../categories.js";
import { formatMoney } from "../money.js";
import { can, session } from "../session.js";
import { createViewer } from "../viewer.js";

const LOW_CONFIDENCE = 0.6;
const LABELS = Object.fromEntries([...FIELDS.map((f) => [f.key, f.label]), ["line_items", "Line items"], ["taxes", "Taxes"], ["merchant", "Merchant"]]);

async function nextInQueue(excludeId) {
  const page = await api(`/api/receipts${query({ status: "needs_review", sort: "created_at", limit: 2 })}`);
  return page.items.find((r) => r.id !== excludeId) || null;
}

export async function render(main, ctx) {
  let receiptId = ctx.params[0];
  if (ctx.queue) {
    const first = await nextInQueue(null).catch(() => null);
    if (!first) {
      mount(main, h("div", { class: "page" }, h("h1", { class: "page-title", tabindex: "-1" }, "Review queue"),
        h("p", { class: "empty" }, "Nothing is waiting for review. Receipts land here when a check fails or a value was hard to read; new uploads appear in the ", h("a", { href: "/" }, "inbox"), ".")));
      return null;
    }
    receiptId = first.id;
  }
  let receipt;
  try {
    receipt = await api(`/api/receipts/${receiptId}`);
  } catch (error) {
    mount(main, h("div", { class: "page" }, h("h1", { class: "page-title", tabindex: "-1" }, "Receipt not found"),
      h("p", {}, error.status === 404 ? "There is no such receipt, or it is not one you can see." : explain(error)), h("a", { href: "/receipts" }, "Back to the receipts")));
    return null;
  }
  return reviewPage(main, ctx, receipt);
}

function reviewPage(main, ctx, initial) {
  let receipt = initial;
  let leaving = false;
  const writable = can("receipts:write");
  const controls = new Map(); // field key → input
  let tables = {};
  let viewer = null;
  let editing = null; // { input, before }
  let pointerDown = false;
  const conflictBox = h("div", { "aria-live": "assertive" });
  const notice = h("div", { "aria-live": "polite" });
  const saveButton = h("button", { class: "button", type: "submit", disabled: !writable }, "Save");
  const confirmButton = h("button", { class: "button primary", type: "button", disabled: !writable, onclick: () => confirmAndNext() }, "Confirm and next");
  const form = h("form", { class: "review-form", novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } });
  // suggestions while typing: the owner's merchants (one of them is what a correction should usually name) and
  // the categories (bundled ones and those the owner's merchants carry)
  const suggestions = h("div", { hidden: true }, categoryList("review-categories", [initial.category]), h("datalist", { id: "review-merchants" }));
  // the merchant links go to the merchant's own page once its id is known (a receipt carries the canonical name,
  // not the id): the entry of the receipt's owner with that name or spelling
  let ownMerchants = [];
  const merchantLinks = new Set();
  const merchantHref = (name) => {
    const key = nameKey(name);
    const entry = ownMerchants.find((m) => [m.name, ...m.variants].some((s) => nameKey(s) === key));
    return entry ? `/merchants/${entry.id}` : `/merchants${query({ q: name })}`;
  };
  api(`/api/merchants${query({ limit: 500 })}`).then((page) => {
    const own = page.items.filter((m) => m.owner_id === initial.owner_id);
    ownMerchants = own;
    for (const link of merchantLinks) if (link.isConnected) link.href = merchantHref(link.dataset.name); else merchantLinks.delete(link);
    mount(suggestions, categoryList("review-categories", [initial.category, ...own.map((m) => m.category)]),
      h("datalist", { id: "review-merchants" }, own.map((m) => h("option", { value: m.name }))));
  }).catch(() => { /* suggestions only */ });
  const body = h("div", { class: "review" });

  const reasonsFor = (key) => {
    const reasons = receipt.warnings.filter((w) => (w.fields || []).some((f) => f === key || f.startsWith(`${key}.`))).map((w) => w.detail);
    const source = receipt.provenance[key];
    if (source && source.confidence < LOW_CONFIDENCE && !receipt.warnings.some((w) => w.code === "low_confidence" && (w.fields || []).includes(key))) {
      reasons.push(`read with low confidence (${Math.round(source.confidence * 100)}%)${source.text ? `: “${source.text}”` : ""}`);
    }
    return reasons;
  };

  const currentChanges = () => {
    const changes = {};
    const merchant = {};
    for (const def of FIELDS) {
      const input = controls.get(def.key);
      const value = fromText(def, input.value);
      if (sameValue(value, getPath(receipt, def.key))) continue;
      if (def.key.startsWith("merchant.")) merchant[def.key.split(".")[1]] = value;
      else changes[def.key] = value;
    }
    if (Object.keys(merchant).length) changes.merchant = merchant;
    for (const [name, table] of Object.entries(tables)) {
      const rows = table.read();
      if (!sameValue(rows, receipt[name])) changes[name] = rows;
    }
    return changes;
  };
  const dirty = () => { try { return Object.keys(currentChanges()).length > 0; } catch { return true; } };
  const markChanged = () => {
    for (const def of FIELDS) {
      const input = controls.get(def.key);
      let changed = true;
      try { changed = !sameValue(fromText(def, input.value), getPath(receipt, def.key)); } catch { changed = true; }
      input.closest(".rfield").classList.toggle("changed", changed);
    }
    saveButton.textContent = dirty() ? "Save changes" : "Save";
  };

  const fieldControl = (def) => {
    const value = toText(def, getPath(receipt, def.key));
    const input = def.multiline
      ? h("textarea", { rows: 2, dataset: { field: def.key } })
      : h("input", { type: def.type || "text", step: def.type === "time" ? 1 : null, inputmode: def.money ? "decimal" : null,
        maxlength: def.maxlength || null, dataset: { field: def.key } });
    input.value = value;
    input.disabled = !writable;
    controls.set(def.key, input);
    const reasons = reasonsFor(def.key);
    const id = `field-${def.key.replace(".", "-")}`;
    input.id = id;
    const described = [];
    const reasonEl = reasons.length ? h("p", { class: "reason", id: `${id}-why` }, reasons.join("; ")) : null;
    if (reasonEl) described.push(reasonEl.id);
    const hint = def.hint ? h("p", { class: "hint", id: `${id}-hint` }, def.hint) : null;
    if (hint) described.push(hint.id);
    const origin = originOf(def.key);
    if (origin) described.push(origin.id);
    if (def.key === "category") input.setAttribute("list", "review-categories");
    if (def.key === "merchant.name") input.setAttribute("list", "review-merchants");
    if (described.length) input.setAttribute("aria-describedby", described.join(" "));
    if (reasons.length) input.setAttribute("aria-invalid", "true");
    return h("div", { class: ["field", "rfield", reasons.length ? "flagged" : null] }, h("label", { for: id }, def.label), input, reasonEl, origin, hint);
  };

  // where the merchant name and the category came from (directory match, learned choice, map), and what a
  // correction of them teaches
  const merchantLink = (name) => {
    const link = h("a", { href: merchantHref(name), dataset: { name } }, "Your merchants");
    merchantLinks.add(link);
    return link;
  };
  const originOf = (key) => {
    const id = `field-${key.replace(".", "-")}-origin`;
    if (key === "merchant.name") {
      const text = merchantOrigin(receipt, session.user.id);
      const name = receipt.merchant && receipt.merchant.name;
      if (!text && !name) return null;
      return h("p", { class: "origin", id }, text ? `${text} ` : "",
        name ? merchantLink(name) : null);
    }
    if (key === "category") {
      const text = categoryOrigin(receipt, session.user.id);
      return text ? h("p", { class: "origin", id }, text) : null;
    }
    return null;
  };

  const header = () => {
    const name = (receipt.merchant && receipt.merchant.name) || receipt.source.filename;
    const why = receipt.warnings.length
      ? h("div", { class: "why", role: "note" }, h("strong", {}, receipt.status === "needs_review" ? "Why it needs review:" : "Notes from the checks:"),
        h("ul", {}, receipt.warnings.map((w) => h("li", {}, w.detail))))
      : null;
    const failed = receipt.status === "failed" && receipt.extraction && receipt.extraction.error
      ? h("div", { class: "why", role: "note" }, h("strong", {}, "Could not be read: "), receipt.extraction.error, " Fill in the fields by hand or re-extract.") : null;
    const busy = ["pending", "processing"].includes(receipt.status)
      ? h("p", { class: "notice" }, "This receipt is being read. The fields fill in by themselves when it is done.") : null;
    return [
      h("div", { class: "review-head" },
        h("h1", { class: "page-title", tabindex: "-1" }, name),
        statusBadge(receipt.status),
        receipt.total ? h("span", { class: "muted" }, formatMoney(receipt.total, receipt.currency)) : null,
        ctx.queue ? h("span", { class: "queue-pos" }, "Review queue") : null,
        h("button", { class: "button small quiet", type: "button", onclick: showShortcuts, "aria-label": "Keyboard shortcuts" }, "Shortcuts ", h("kbd", {}, "?"))),
      busy, failed, why];
  };

  const historySection = () => {
    const items = [...receipt.corrections].reverse();
    const extraction = receipt.extraction;
    return h("div", { class: "section" },
      h("h2", {}, "History"),
      items.length ? h("ul", { class: "history", "aria-label": "Corrections" }, items.map((c) => h("li", {},
        h("strong", {}, LABELS[c.field] || c.field), ": ", h("code", {}, short(c.from)), " → ", h("code", {}, short(c.to)),
        h("span", { class: "muted" }, ` · ${c.by === session.user.id ? "you" : "another user"} · ${formatTimestamp(c.at)}`))))
        : h("p", { class: "muted" }, "No corrections yet."),
      extraction ? h("details", {}, h("summary", {}, `Extraction: ${extraction.extractor} ${extraction.extractor_version || ""}, attempt ${extraction.attempt} of ${receipt.extraction_attempts}`),
        h("p", { class: "muted" }, `${extraction.outcome}${extraction.duration_ms ? `, ${(extraction.duration_ms / 1000).toFixed(1)} s` : ""}${extraction.finished_at ? `, ${formatTimestamp(extraction.finished_at)}` : ""}`),
        extraction.raw_text ? h("pre", { class: "raw" }, extraction.raw_text) : null) : null);
  };

  const draw = () => {
    if (viewer) viewer.destroy();
    viewer = createViewer(receipt, { onBoxClick: (path) => focusField(path) });
    controls.clear();
    tables = {
      line_items: editableTable("line_items", receipt.line_items || [], { onChange: markChanged, provenanceKey: (i) => `line_items.${i}` }),
      taxes: editableTable("taxes", receipt.taxes || [], { onChange: markChanged, provenanceKey: (i) => `taxes.${i}` }),
    };
    const byKey = Object.fromEntries(FIELDS.map((d) => [d.key, fieldControl(d)]));
    mount(form,
      h("div", { class: "section" }, byKey["merchant.name"], byKey["merchant.address"],
        h("div", { class: "row" }, byKey.purchase_date, byKey.purchase_time), byKey.receipt_number),
      h("div", { class: "section" }, h("div", { class: "row" }, byKey.currency, byKey.subtotal), h("div", { class: "row" }, byKey.discount, byKey.tip), byKey.total),
      tables.line_items.element, tables.taxes.element,
      h("div", { class: "section" }, h("div", { class: "row" }, byKey.category, byKey.tags), byKey.notes, suggestions),
      h("div", { class: "review-actions" }, saveButton, confirmButton,
        writable ? h("button", { class: "button", type: "button", onclick: reextract }, "Re-extract") : null,
        h("button", { class: "button", type: "button", onclick: () => download(`/api/receipts/${receipt.id}/file`, receipt.source.filename).catch((e) => toast(explain(e), "error")) }, "Download original"),
        writable ? h("button", { class: "button danger", type: "button", onclick: remove }, "Delete") : null),
      historySection());
    mount(body, viewer.element, h("div", {}, conflictBox, notice, form));
    mount(main, h("div", { class: "page" }, header(), body));
    confirmButton.disabled = !writable || ["pending", "processing"].includes(receipt.status);
    markChanged();
  };

  const focusField = (path) => {
    const input = controls.get(path) || form.querySelector(`[data-field="${CSS.escape(path)}"]`);
    if (input) input.focus();
  };

  // keyboard model: focus by keyboard is "navigation" (read-only until Enter), a pointer or typing edits
  const inputs = () => [...form.querySelectorAll("input[data-field], textarea[data-field]")].filter((el) => !el.disabled);
  const startEdit = (input) => {
    if (editing && editing.input === input) return;
    input.readOnly = false;
    editing = { input, before: input.value };
  };
  const stopEdit = (revert) => {
    if (!editing) return;
    if (revert) { editing.input.value = editing.before; editing.input.dispatchEvent(new Event("input", { bubbles: true })); }
    editing.input.readOnly = true;
    editing = null;
    markChanged();
  };
  form.addEventListener("mousedown", () => { pointerDown = true; });
  form.addEventListener("focusin", (event) => {
    const input = event.target.closest("[data-field]");
    if (!input || !("readOnly" in input)) return;
    if (editing && editing.input !== input) stopEdit(false);
    if (pointerDown) startEdit(input);
    else if (!editing) input.readOnly = true;
    pointerDown = false;
    viewer.highlight(input.dataset.field);
    form.querySelectorAll(".active-field").forEach((el) => el.classList.remove("active-field"));
    const wrapper = input.closest(".rfield");
    if (wrapper) wrapper.classList.add("active-field");
  });
  form.addEventListener("click", (event) => {
    const input = event.target.closest("[data-field]");
    if (input && input.readOnly) startEdit(input);
  });
  form.addEventListener("focusout", (event) => {
    const input = event.target.closest("[data-field]");
    if (input && editing && editing.input === input) stopEdit(false);
    if (!form.contains(event.relatedTarget)) viewer.highlight(null);
  });
  form.addEventListener("input", markChanged);

  const onKey = (event) => {
    if (leaving || document.querySelector("dialog[open]")) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); stopEdit(false); confirmAndNext(); return; }
    if (event.key === "s" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); stopEdit(false); save(); return; }
    const target = event.target;
    const isField = target instanceof HTMLElement && target.matches("[data-field]");
    const inEdit = editing && editing.input === target;
    if (inEdit) {
      if (event.key === "Escape") { event.preventDefault(); stopEdit(true); }
      else if (event.key === "Enter" && target.tagName !== "TEXTAREA") { event.preventDefault(); stopEdit(false); }
      return;
    }
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) && !(isField && target.readOnly);
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "?") { event.preventDefault(); showShortcuts(); return; }
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      const list = inputs();
      const index = list.indexOf(target);
      const next = index < 0 ? (event.key === "j" ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, index + (event.key === "j" ? 1 : -1)));
      if (list[next]) list[next].focus();
      return;
    }
    if (isField && event.key === "Enter") { event.preventDefault(); startEdit(target); target.select && target.select(); return; }
    if (isField && event.key.length === 1 && !target.disabled) startEdit(target); // typing starts editing
  };
  document.addEventListener("keydown", onKey);

  function showShortcuts() {
    const rows = [["j / k", "next / previous field"], ["Enter", "edit the field (Enter again to keep)"], ["Esc", "cancel the edit"],
      ["Ctrl+Enter", "save, confirm and open the next receipt to review"], ["Ctrl+S", "save"], ["?", "this list"]];
    dialog("Keyboard shortcuts", h("dl", { class: "shortcuts" }, rows.map(([k, v]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, v)])));
  }

  const setReceipt = (next) => { receipt = next; draw(); };

  async function save({ quiet = false } = {}) {
    if (!writable) return true;
    let changes;
    try { changes = currentChanges(); } catch (error) { toast(error.message, "error"); return false; }
    if (!Object.keys(changes).length) { if (!quiet) announce("Nothing to save"); return true; }
    saveButton.disabled = true;
    try {
      const saved = await api(`/api/receipts/${receipt.id}`, { method: "PATCH", body: changes, headers: { "If-Match": `"${receipt.version}"` } });
      mount(conflictBox);
      setReceipt(saved);
      announce("Saved");
      if (!quiet) toast("Saved");
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) { await showConflict(changes); return false; }
      toast(`Not saved: ${explain(error)}`, "error");
      return false;
    } finally {
      saveButton.disabled = !writable;
    }
  }

  async function showConflict(mine) {
    const theirs = await api(`/api/receipts/${receipt.id}`);
    const rows = [];
    const keep = {};
    for (const [key, value] of Object.entries(mine)) {
      const entries = key === "merchant" ? Object.entries(value).map(([k, v]) => [`merchant.${k}`, v]) : [[key, value]];
      for (const [path, myValue] of entries) {
        const base = getPath(receipt, path);
        const their = getPath(theirs, path);
        if (sameValue(their, base) || sameValue(their, myValue)) { keep[path] = myValue; continue; }
        rows.push({ path, mine: myValue, theirs: their });
      }
    }
    const choices = new Map(rows.map((r) => [r.path, "mine"]));
    const resolve = async () => {
      const changes = {};
      const put = (path, value) => {
        if (path.startsWith("merchant.")) { changes.merchant = changes.merchant || {}; changes.merchant[path.split(".")[1]] = value; }
        else changes[path] = value;
      };
      for (const [path, value] of Object.entries(keep)) if (!sameValue(getPath(theirs, path), value)) put(path, value);
      for (const row of rows) if (choices.get(row.path) === "mine") put(row.path, row.mine);
      receipt = theirs;
      if (!Object.keys(changes).length) { mount(conflictBox); draw(); announce("Their version kept"); return; }
      try {
        const saved = await api(`/api/receipts/${theirs.id}`, { method: "PATCH", body: changes, headers: { "If-Match": `"${theirs.version}"` } });
        mount(conflictBox);
        setReceipt(saved);
        toast("Saved with your choices");
      } catch (error) {
        if (error instanceof ApiError && error.status === 412) { await showConflict(changes); return; }
        toast(`Not saved: ${explain(error)}`, "error");
      }
    };
    if (!rows.length) { await resolve(); return; }
    mount(conflictBox, h("div", { class: "conflict", role: "alert" },
      h("h2", {}, "Someone else changed this receipt while you were editing"),
      h("p", {}, "Nothing was lost. For each field both changed, choose which value to keep, then save."),
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Your value"), h("th", { scope: "col" }, "Their value"))),
        h("tbody", {}, rows.map((row) => {
          const name = `choice-${row.path}`;
          const pick = (value, label, text) => h("label", { class: "choice" },
            h("input", { type: "radio", name, value, checked: value === "mine", onchange: () => choices.set(row.path, value) }), " ", h("span", { class: "visually-hidden" }, label), h("code", {}, text));
          return h("tr", {}, h("th", { scope: "row" }, LABELS[row.path] || row.path),
            h("td", {}, pick("mine", "Keep your value: ", short(row.mine))), h("td", {}, pick("theirs", "Take their value: ", short(row.theirs))));
        })))),
      h("div", { class: "actions" },
        h("button", { class: "button", type: "button", onclick: () => { receipt = theirs; mount(conflictBox); draw(); } }, "Discard my edits"),
        h("button", { class: "button primary", type: "button", onclick: resolve }, "Save my choices"))));
    conflictBox.querySelector("h2").setAttribute("tabindex", "-1");
    conflictBox.querySelector("h2").focus();
  }

  async function confirmAndNext() {
    if (!writable || leaving) return;
    if (!(await save({ quiet: true }))) return;
    try {
      const confirmed = await api(`/api/receipts/${receipt.id}/confirm`, { method: "POST", headers: { "If-Match": `"${receipt.version}"` } });
      receipt = confirmed;
      announce("Confirmed");
      toast("Confirmed");
    } catch (error) {
      toast(`Not confirmed: ${explain(error)}`, "error");
      return;
    }
    const next = await nextInQueue(receipt.id).catch(() => null);
    if (next) {
      if (ctx.queue) { setReceipt(await api(`/api/receipts/${next.id}`)); form.querySelector("[data-field]").focus(); }
      else ctx.navigate(`/receipts/${next.id}`);
    } else {
      draw();
      notice.replaceChildren(h("p", { class: "notice" }, "That was the last receipt waiting for review. ", h("a", { href: "/receipts" }, "See all receipts")));
    }
  }

  async function reextract() {
    if (!(await confirmDialog("Re-extract", "Read this receipt again? Category, tags and notes stay; other corrections are replaced by the new reading (they stay in the history).", "Re-extract"))) return;
    try { setReceipt(await api(`/api/receipts/${receipt.id}/reextract`, { method: "POST" })); } catch (error) { toast(explain(error), "error"); }
  }

  async function remove() {
    if (!(await confirmDialog("Delete receipt", "Delete this receipt and its file? This cannot be undone.", "Delete", "danger"))) return;
    try {
      await api(`/api/receipts/${receipt.id}`, { method: "DELETE" });
      receipt = null;
      toast("Deleted");
      ctx.navigate(ctx.queue ? "/review" : "/receipts", { replace: true });
    } catch (error) { toast(explain(error), "error"); }
  }

  const off = onReceiptEvent(async (event) => {
    if (!receipt || leaving || !event.payload || event.payload.id !== receipt.id) return;
    if (event.type === "receipt.deleted") { notice.replaceChildren(h("p", { class: "notice" }, "This receipt was deleted elsewhere.")); return; }
    if (event.payload.version <= receipt.version) return;
    if (dirty()) {
      notice.replaceChildren(h("p", { class: "notice" }, "This receipt was changed elsewhere. Your save will show what differs."));
      return;
    }
    try { setReceipt(await api(`/api/receipts/${receipt.id}`)); } catch { /* gone */ }
  });

  draw();
  return {
    dirty: () => receipt !== null && dirty(),
    leave: () => { leaving = true; off(); document.removeEventListener("keydown", onKey); if (viewer) viewer.destroy(); },
  };
}

function short(value) {
  if (value === null || value === undefined || value === "") return "(empty)";
  if (Array.isArray(value)) return value.length && typeof value[0] === "object" ? `${value.length} row${value.length === 1 ? "" : "s"}` : value.join(", ") || "(none)";
  if (typeof value === "object") return Object.values(value).filter(Boolean).join(", ");
  return String(value);
}

export { TABLES };
