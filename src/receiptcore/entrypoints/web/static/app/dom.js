// Small DOM helpers: elements are built with h(), never from HTML strings (no markup injection, CSP-clean).

/**
 * Create an element. `attrs`: `class`, `text`, `on<Event>` handlers, `dataset`, booleans (`hidden`, `disabled`,
 * `checked`...) and any other attribute; `null`/`undefined`/`false` values are skipped. Children may be nodes,
 * strings, arrays or nothing.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElementNS(
    tag === "svg" || attrs.svg ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml",
    tag,
  );
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false || key === "svg") continue;
    if (key === "text") el.textContent = value;
    else if (key === "class") el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "value" || key === "checked" || key === "selected" || key === "indeterminate") el[key] = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Say something to screen readers (the polite live region). */
export function announce(message) {
  const live = document.getElementById("live");
  live.textContent = "";
  // a fresh text node after a tick so the same message twice is announced twice
  setTimeout(() => { live.textContent = message; }, 30);
}

/** A short message in the corner (errors are announced assertively). */
export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: ["toast", kind], role: kind === "error" ? "alert" : "status" }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/** A labelled form field: label + control (+ hint / error slots), ids wired for screen readers. */
let nextId = 0;
export function field(label, control, { hint, className } = {}) {
  const id = control.id || `f${++nextId}`;
  control.id = id;
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: ["field", className] }, h("label", { for: id }, label), control, hintEl);
}

/** A page heading that takes focus after navigation (screen readers hear the new page). */
export function heading(text, level = 1) {
  return h(`h${level}`, { class: "page-title", tabindex: "-1" }, text);
}

/** Dates and times in the browser's locale. */
export function formatDate(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function formatTimestamp(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A modal dialog (native <dialog>): resolves with the value of the button that closed it. */
export function dialog(title, body, buttons = [{ label: "Close", value: "close" }]) {
  return new Promise((resolve) => {
    const titleId = `d${++nextId}`;
    const dlg = h("dialog", { class: "dialog", "aria-labelledby": titleId },
      h("form", { method: "dialog" },
        h("h2", { id: titleId }, title),
        body,
        h("div", { class: "actions" }, buttons.map((b) =>
          h("button", { class: ["button", b.kind], value: b.value, type: b.submit === false ? "button" : "submit" }, b.label))),
      ));
    dlg.addEventListener("close", () => { resolve(dlg.returnValue || "cancel"); dlg.remove(); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** Ask a yes/no question in a dialog. */
export async function confirmDialog(title, text, yes = "OK", kind = "primary") {
  const answer = await dialog(title, h("p", {}, text), [
    { label: "Cancel", value: "cancel" }, { label: yes, value: "yes", kind },
  ]);
  return answer === "yes";
}

export const STATUS_LABELS = {
  pending: "Waiting", processing: "Reading…", extracted: "Extracted", needs_review: "Needs review",
  failed: "Failed", confirmed: "Confirmed",
};

/** A status pill (colour plus words: never colour alone). */
export function statusBadge(status) {
  return h("span", { class: ["badge", `status-${status}`] }, STATUS_LABELS[status] || status);
}
