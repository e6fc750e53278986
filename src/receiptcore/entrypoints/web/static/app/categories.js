// Categories and merchant names as the client shows them: the category suggestions (GET /api/categories: the
// bundled map and the person's own; suggestions only, any category may be typed), where a receipt's category came
// from, and a name key for comparing spellings.
import { api, onSignedOut } from "./api.js";
import { h, mount } from "./dom.js";

const FRESH_MS = 60_000;
let cached = null; // { at, names: Promise<string[]> }
onSignedOut(() => { cached = null; });

/** The category names to suggest (GET /api/categories), asked for at most once a minute; [] when it fails. */
export function categoryNames() {
  if (!cached || Date.now() - cached.at > FRESH_MS) {
    const names = api("/api/categories").then((list) => list.items.map((c) => c.name)).catch(() => {
      cached = null;
      return [];
    });
    cached = { at: Date.now(), names };
  }
  return cached.names;
}

/** A <datalist> of category suggestions: the API's plus `extra` (on this page), sorted, each once; filled when
 * the list arrives. */
export function categoryList(id, extra = []) {
  const list = h("datalist", { id });
  const fill = (names) => {
    const seen = new Map();
    for (const name of [...names, ...extra.filter(Boolean)]) if (!seen.has(name.toLocaleLowerCase())) seen.set(name.toLocaleLowerCase(), name);
    mount(list, [...seen.values()].sort((a, b) => a.localeCompare(b)).map((name) => h("option", { value: name })));
  };
  fill([]);
  categoryNames().then(fill);
  return list;
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
