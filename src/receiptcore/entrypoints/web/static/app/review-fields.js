// The editable fields of a receipt on the review page: their definitions, reading values out of a receipt and the
// form, and the editable tables (line items, taxes). Money stays a decimal string throughout.
import { h } from "./dom.js";
import { isDecimal } from "./money.js";

export const FIELDS = [
  { key: "merchant.name", label: "Merchant", hint: "A correction is remembered: receipts printed like this one get the name you type." },
  { key: "merchant.address", label: "Address", multiline: true },
  { key: "purchase_date", label: "Purchase date", type: "date" },
  { key: "purchase_time", label: "Time", type: "time" },
  { key: "receipt_number", label: "Receipt number" },
  { key: "currency", label: "Currency", maxlength: 3, pattern: "[A-Za-z]{3}", hint: "ISO code, e.g. EUR" },
  { key: "subtotal", label: "Subtotal", money: true },
  { key: "discount", label: "Discount", money: true },
  { key: "tip", label: "Tip", money: true },
  { key: "total", label: "Total", money: true },
  { key: "category", label: "Category" },
  { key: "tags", label: "Tags", list: true, hint: "Separated by commas" },
  { key: "notes", label: "Notes", multiline: true },
];

export const TABLES = {
  line_items: { label: "Line items", columns: [
    { key: "description", label: "Description", wide: true, empty: "" }, { key: "quantity", label: "Qty", money: true },
    { key: "unit_price", label: "Unit price", money: true }, { key: "amount", label: "Amount", money: true }] },
  taxes: { label: "Taxes", columns: [
    { key: "label", label: "Label", wide: true }, { key: "rate", label: "Rate %", money: true }, { key: "amount", label: "Amount", money: true }] },
};

export function getPath(object, path) {
  return path.split(".").reduce((value, part) => (value === null || value === undefined ? null : value[part]), object) ?? null;
}

/** The form value (a string) of a receipt field. */
export function toText(def, value) {
  if (value === null || value === undefined) return "";
  if (def.list) return value.join(", ");
  if (def.type === "time") return String(value).slice(0, 8);
  return String(value);
}

/** The API value of a form string (null when empty); throws a sentence when it is not valid. */
export function fromText(def, text) {
  const value = text.trim();
  if (def.list) return value ? value.split(",").map((t) => t.trim()).filter(Boolean) : [];
  if (!value) return null;
  if (def.money && !isDecimal(value)) throw new Error(`${def.label} must be a number like 12.50`);
  if (def.key === "currency") {
    if (!/^[A-Za-z]{3}$/.test(value)) throw new Error("Currency must be a three-letter code such as EUR");
    return value.toUpperCase();
  }
  if (def.type === "time" && /^\d\d:\d\d$/.test(value)) return `${value}:00`;
  return value;
}

export function sameValue(a, b) { return JSON.stringify(a ?? null) === JSON.stringify(b ?? null); }

/** An editable table of rows (line items or taxes): returns {element, read(), inputs()} */
export function editableTable(name, rows, { onChange, provenanceKey }) {
  const spec = TABLES[name];
  const body = h("tbody");
  const originals = rows.map((r) => ({ ...r }));
  let current = rows.map((r) => ({ ...r }));
  const draw = () => {
    body.replaceChildren(...current.map((row, index) => h("tr", { dataset: { index } },
      spec.columns.map((col) => {
        const input = h("input", { type: "text", value: row[col.key] ?? "", inputmode: col.money ? "decimal" : null,
          "aria-label": `${spec.label} ${index + 1}: ${col.label}`, dataset: { field: provenanceKey(index), col: col.key } });
        input.addEventListener("input", () => { current[index][col.key] = input.value; onChange(); });
        return h("td", { class: col.wide ? "desc" : "num" }, input);
      }),
      h("td", {}, h("button", { class: "button small quiet", type: "button", "aria-label": `Remove ${spec.label.toLowerCase()} row ${index + 1}`,
        onclick: () => { current.splice(index, 1); draw(); onChange(); } }, "✕")))));
  };
  draw();
  const element = h("div", { class: "section" },
    h("h3", {}, spec.label),
    h("div", { class: "table-wrap" }, h("table", { class: "items" },
      h("thead", {}, h("tr", {}, spec.columns.map((c) => h("th", { scope: "col", class: c.wide ? "" : "num" }, c.label)), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))),
      body)),
    h("button", { class: "button small", type: "button", onclick: () => {
      current.push(Object.fromEntries(spec.columns.map((c) => [c.key, ""])));
      draw(); onChange();
      body.lastElementChild.querySelector("input").focus();
    } }, `Add ${name === "taxes" ? "tax" : "item"}`));
  /** The rows as the API wants them (other keys of each original row kept); throws on a bad amount. */
  const read = () => current.map((row, index) => {
    const out = { ...(originals[index] || {}) };
    for (const col of spec.columns) {
      const text = String(row[col.key] ?? "").trim();
      if (col.money && text && !isDecimal(text)) throw new Error(`${spec.label} row ${index + 1}: ${col.label} must be a number`);
      out[col.key] = text || (col.empty ?? null);
    }
    return out;
  });
  return { element, read, reset: (next) => { current = next.map((r) => ({ ...r })); draw(); } };
}
