// Money is exact: amounts stay decimal strings, sums use BigInt, display uses Intl with the string itself.

const DECIMAL = /^-?\d{1,15}(\.\d{1,6})?$/;

export function isDecimal(text) { return DECIMAL.test(String(text).trim()); }

/** "12.5" + "0.75" = "13.25" (any number of decimal strings, exact). */
export function sum(values) {
  let scale = 0;
  const parsed = [];
  for (const value of values) {
    if (value === null || value === undefined || value === "") continue;
    const text = String(value).trim();
    if (!isDecimal(text)) continue;
    const [int, frac = ""] = text.replace("-", "").split(".");
    scale = Math.max(scale, frac.length);
    parsed.push({ negative: text.startsWith("-"), int, frac });
  }
  let total = 0n;
  for (const p of parsed) {
    const units = BigInt(p.int + p.frac.padEnd(scale, "0"));
    total += p.negative ? -units : units;
  }
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(scale + 1, "0");
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}

/** Format a decimal string in a currency for the browser's locale ("8.35", "MYR" → "MYR 8.35" / "RM 8.35"). */
export function formatMoney(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "";
  if (!currency) return String(amount);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: 2, maximumFractionDigits: 6 }).format(String(amount));
  } catch {
    return `${amount} ${currency}`;
  }
}

/** Totals per currency of a list of receipts: [{currency, total, count}], largest count first. */
export function totalsByCurrency(receipts) {
  const groups = new Map();
  for (const receipt of receipts) {
    if (receipt.total === null || receipt.total === undefined) continue;
    const currency = receipt.currency || "";
    if (!groups.has(currency)) groups.set(currency, []);
    groups.get(currency).push(receipt.total);
  }
  return [...groups.entries()]
    .map(([currency, totals]) => ({ currency, total: sum(totals), count: totals.length }))
    .sort((a, b) => b.count - a.count || a.currency.localeCompare(b.currency));
}
