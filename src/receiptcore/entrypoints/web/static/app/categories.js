// Categories and merchant names as the client shows them: the bundled category names (suggestions only: any
// category may be typed), where a receipt's category came from, and a name key for comparing spellings.
import { h } from "./dom.js";

// the categories of the bundled map (src/receiptcore/domain/categories.toml, docs/extractors.md)
export const BUNDLED_CATEGORIES = [
  "books", "clothing", "electronics", "fuel", "groceries", "hardware", "lodging", "pharmacy", "restaurants",
  "services", "shopping", "transport",
];

/** A <datalist> of category suggestions: the bundled ones plus `extra` (the person's own), sorted, each once. */
export function categoryList(id, extra = []) {
  const names = [...new Set([...BUNDLED_CATEGORIES, ...extra.filter(Boolean)])].sort((a, b) => a.localeCompare(b));
  return h("datalist", { id }, names.map((name) => h("option", { value: name })));
}

/** A comparison key of a name: case and accents folded, punctuation as spaces (the server's matcher is finer). */
export function nameKey(name) {
  return String(name || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLocaleLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

const percent = (confidence) => `${Math.round((confidence || 0) * 100)}%`;

/**
 * The latest correction of `field` when it set the value the receipt has now (a person chose it), else null. With
 * `sinceReading`, a correction older than the latest reading does not count (a re-extraction replaced it).
 */
function chosenBy(receipt, field, current, { sinceReading = false } = {}) {
  const last = [...(receipt.corrections || [])].reverse().find((c) => c.field === field);
  if (!last) return null;
  const read = receipt.extraction && receipt.extraction.finished_at;
  if (sinceReading && read && Date.parse(read) > Date.parse(last.at)) return null;
  const to = field === "merchant" ? last.to && last.to.name : last.to;
  return to === current ? last : null;
}

/**
 * Where the receipt's merchant name came from, as a sentence (or null when nothing is known): a person's correction,
 * a match in the merchant directory (with what was printed and the match score), or the reading itself.
 */
export function merchantOrigin(receipt, userId) {
  const name = receipt.merchant && receipt.merchant.name;
  if (!name) return null;
  const corrected = chosenBy(receipt, "merchant", name, { sinceReading: true });
  if (corrected) return `Set by ${corrected.by === userId ? "you" : "another user"}.`;
  const source = receipt.provenance["merchant.name"];
  if (!source) return null;
  if (source.method === "merchant_directory") {
    const printed = source.text && nameKey(source.text) !== nameKey(name) ? `printed “${source.text}”, ` : "";
    return `Matched to your merchant “${name}” (${printed}${percent(source.confidence)} match).`;
  }
  return `As printed (read with ${percent(source.confidence)} confidence).`;
}

const CATEGORY_SOURCES = {
  "category:learned": () => "your last choice for this merchant",
  "category:map:merchant": (text) => `the kind of shop in its name${text ? ` (“${text}”)` : ""}`,
  "category:map:receipt_type": (text) => `the type of receipt${text ? ` (${text})` : ""}`,
  "category:map:items": (text) => `the items bought${text ? ` (${text})` : ""}`,
};

/** Where the receipt's category came from, as a sentence (or the invitation to choose one when it has none). */
export function categoryOrigin(receipt, userId) {
  if (!receipt.category) return "No category found. Choose one: receipts from this merchant get it from then on (for you only).";
  const corrected = chosenBy(receipt, "category", receipt.category);
  if (corrected) return `Chosen by ${corrected.by === userId ? "you" : "another user"}; new receipts from this merchant get it too.`;
  const source = receipt.provenance.category;
  const explainSource = source && CATEGORY_SOURCES[source.method];
  if (!explainSource) return null;
  return `Suggested from ${explainSource(source.text)}, ${percent(source.confidence)} sure. Correct it to teach your choice for this merchant.`;
}
