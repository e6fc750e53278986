// /dashboard: spend by month, category and merchant (from GET /api/stats) for a period and a currency. Each chart
// has its numbers as a table too (screen readers, copying).
import { api, explain, query } from "../api.js";
import { field, h, mount } from "../dom.js";
import { onReceiptEvent } from "../events.js";
import { formatMoney, sum } from "../money.js";
import { preferredCurrency, session } from "../session.js";

const PERIODS = [
  ["all", "All time"], ["12m", "Last 12 months"], ["month", "This month"], ["3m", "Last 3 months"],
  ["year", "This year"], ["lastyear", "Last year"], ["custom", "Custom dates"],
];

function iso(date) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}

function range(period, from, to) {
  const now = new Date();
  const y = now.getFullYear();
  const m = now.getMonth();
  switch (period) {
    case "month": return [iso(new Date(y, m, 1)), iso(now)];
    case "3m": return [iso(new Date(y, m - 2, 1)), iso(now)];
    case "12m": return [iso(new Date(y, m - 11, 1)), iso(now)];
    case "year": return [iso(new Date(y, 0, 1)), iso(now)];
    case "lastyear": return [iso(new Date(y - 1, 0, 1)), iso(new Date(y - 1, 11, 31))];
    case "custom": return [from || "", to || ""];
    default: return ["", ""];
  }
}

let chartLib = null;
async function loadChart() {
  if (!chartLib) {
    // the UMD build defines globalThis.Chart when evaluated as a module (the ESM build needs a bare import)
    await import("/static/vendor/chart.js-4.6.1/chart.umd.min.js");
    chartLib = globalThis.Chart;
  }
  return chartLib;
}

function colours() {
  const style = getComputedStyle(document.documentElement);
  const get = (name) => style.getPropertyValue(name).trim();
  return { accent: get("--accent"), text: get("--text"), muted: get("--muted"), border: get("--border"),
    palette: [get("--accent"), "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"] };
}

export async function render(main, { query: urlQuery, navigate }) {
  const period = urlQuery.get("period") || "all";
  const periodSelect = h("select", { name: "period" }, PERIODS.map(([v, l]) => h("option", { value: v, selected: v === period }, l)));
  const fromInput = h("input", { type: "date", name: "from", value: urlQuery.get("from") || "" });
  const toInput = h("input", { type: "date", name: "to", value: urlQuery.get("to") || "" });
  const currencySelect = h("select", { name: "currency" });
  const kpis = h("div", { class: "kpis" });
  const charts = h("div", { class: "charts" });
  const status = h("p", { class: "hint", role: "status" });
  const custom = h("div", { class: "row", hidden: period !== "custom" }, field("From", fromInput), field("To", toInput));
  const instances = [];
  let leaving = false;
  let stats = null;

  const go = () => {
    const params = { period: periodSelect.value === "all" ? "" : periodSelect.value, currency: currencySelect.value };
    if (periodSelect.value === "custom") Object.assign(params, { from: fromInput.value, to: toInput.value });
    navigate(`/dashboard${query(params)}`, { replace: true });
  };
  periodSelect.addEventListener("change", go);
  currencySelect.addEventListener("change", go);
  fromInput.addEventListener("change", go);
  toInput.addEventListener("change", go);

  mount(main, h("div", { class: "page dashboard" },
    h("div", { class: "page-head" }, h("h1", { class: "page-title", tabindex: "-1" }, "Dashboard")),
    h("div", { class: "dash-controls" }, field("Period", periodSelect), custom, field("Currency", currencySelect)),
    status, kpis, charts));

  const [dateFrom, dateTo] = range(period, urlQuery.get("from"), urlQuery.get("to"));
  const drawCharts = async () => {
    instances.splice(0).forEach((c) => c.destroy());
    // every receipt with a total has a category bucket ("uncategorized" at least); months need a purchase date
    const currencies = [...new Set(stats.by_category.map((b) => b.currency).filter(Boolean))];
    const wanted = urlQuery.get("currency") || preferredCurrency();
    const byCount = (code) => stats.by_category.filter((b) => b.currency === code).reduce((n, b) => n + b.count, 0);
    currencies.sort((a, b) => byCount(b) - byCount(a) || a.localeCompare(b));
    const currency = currencies.includes(wanted) ? wanted : currencies[0] || "";
    mount(currencySelect, currencies.length ? currencies.map((c) => h("option", { value: c, selected: c === currency }, c)) : h("option", { value: "" }, "No amounts yet"));
    const pick = (list) => list.filter((b) => b.currency === currency);
    const months = pick(stats.by_month).sort((a, b) => a.key.localeCompare(b.key));
    const categories = pick(stats.by_category).sort((a, b) => Number(b.total) - Number(a.total));
    // a merchant is one person's (stats never add two people's "Netto" together): others' are marked as such
    const merchants = pick(stats.by_merchant).sort((a, b) => Number(b.total) - Number(a.total)).slice(0, 10)
      .map((b) => (b.owner_id && b.owner_id !== session.user.id ? { ...b, key: `${b.key} (another person's)` } : b));
    const total = sum(categories.map((b) => b.total));
    const count = categories.reduce((n, b) => n + b.count, 0);
    const undated = count - months.reduce((n, b) => n + b.count, 0);
    mount(kpis,
      h("div", { class: "card kpi" }, h("div", { class: "label" }, `Spent (${currency || "no currency"})`), h("div", { class: "value", id: "kpi-total" }, currency ? formatMoney(total, currency) : "—")),
      h("div", { class: "card kpi" }, h("div", { class: "label" }, `Receipts in ${currency || "this currency"}`), h("div", { class: "value" }, String(count))),
      h("div", { class: "card kpi" }, h("div", { class: "label" }, "Receipts in the period"), h("div", { class: "value" }, String(stats.receipt_count))));
    if (!categories.length) {
      mount(charts, h("p", { class: "empty wide" }, stats.receipt_count
        ? "None of these receipts has a total with a currency yet. Review them to fill it in."
        : "No receipts in this period yet. Upload some in the inbox, or choose a longer period."));
      return;
    }
    const Chart = await loadChart();
    if (leaving) return;
    const c = colours();
    Chart.defaults.color = c.muted;
    Chart.defaults.borderColor = c.border;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    const money = (v) => formatMoney(String(v), currency);
    const panel = (title, id, buckets, type, wide, linkOf = () => null) => {
      const canvas = h("canvas", { id, role: "img", "aria-label": `${title}: ${buckets.map((b) => `${b.key} ${money(b.total)}`).join(", ")}` });
      const table = h("details", {}, h("summary", {}, "Show as a table"),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, title.split(" by ")[1] || "Key"), h("th", { scope: "col", class: "num" }, "Total"), h("th", { scope: "col", class: "num" }, "Receipts"))),
          h("tbody", {}, buckets.map((b) => h("tr", {}, h("td", {}, linkOf(b) ? h("a", { href: linkOf(b) }, b.key) : b.key), h("td", { class: "num" }, money(b.total)), h("td", { class: "num" }, String(b.count)))))));
      charts.append(h("section", { class: ["card", wide ? "wide" : null], "aria-labelledby": `${id}-title` },
        h("h2", { id: `${id}-title` }, title), h("div", { class: "chart-box" }, canvas), table));
      const horizontal = type === "hbar";
      instances.push(new Chart(canvas, {
        type: type === "doughnut" ? "doughnut" : "bar",
        data: { labels: buckets.map((b) => b.key), datasets: [{ label: `Spent (${currency})`, data: buckets.map((b) => Number(b.total)),
          backgroundColor: type === "doughnut" ? c.palette : c.accent, borderWidth: type === "doughnut" ? 1 : 0, borderRadius: 4, maxBarThickness: 56 }] },
        options: { responsive: true, maintainAspectRatio: false, animation: false, indexAxis: horizontal ? "y" : "x",
          plugins: { legend: { display: type === "doughnut", position: "bottom" },
            tooltip: { callbacks: { label: (ctx) => ` ${money(buckets[ctx.dataIndex].total)} · ${buckets[ctx.dataIndex].count} receipt(s)` } } },
          scales: type === "doughnut" ? {} : { [horizontal ? "x" : "y"]: { beginAtZero: true, ticks: { callback: (v) => money(v) } } } },
      }));
    };
    charts.replaceChildren();
    if (months.length) panel("Spend by month", "chart-month", months, "bar", true);
    else charts.append(h("p", { class: "empty wide" }, "No purchase dates yet, so no months to show."));
    if (undated > 0 && months.length) charts.append(h("p", { class: "hint wide" }, `${undated} receipt${undated === 1 ? " has" : "s have"} no purchase date and ${undated === 1 ? "is" : "are"} left out of the months.`));
    // receipts of a category, and the merchants page (grouped by canonical merchant like these figures)
    panel("Spend by category", "chart-category", categories, "doughnut", false,
      (b) => (b.key === "uncategorized" ? null : `/receipts${query({ category: b.key })}`));
    panel("Spend by merchant", "chart-merchant", merchants, "hbar", false,
      (b) => (b.merchant_id ? `/merchants/${b.merchant_id}` : b.key === "unknown" ? null : `/merchants${query({ q: b.key })}`));
  };

  const load = async () => {
    status.textContent = dateFrom || dateTo ? `From ${dateFrom || "the beginning"} to ${dateTo || "today"}` : "All time";
    try {
      stats = await api(`/api/stats${query({ date_from: dateFrom, date_to: dateTo })}`);
      if (!leaving) await drawCharts();
    } catch (error) {
      status.textContent = `The figures cannot be loaded: ${explain(error)}`;
    }
  };
  let pending = null;
  const off = onReceiptEvent(() => { clearTimeout(pending); pending = setTimeout(load, 500); });
  await load();
  return { leave: () => { leaving = true; off(); clearTimeout(pending); instances.forEach((c) => c.destroy()); } };
}
