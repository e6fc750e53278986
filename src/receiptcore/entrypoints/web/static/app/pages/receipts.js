// /receipts: search, filters, sort (all kept in the URL), infinite scroll over cursor pages, the totals of what is
// shown per currency, bulk select → export, delete, re-extract. "/" focuses the search box.
import { api, download, explain, query } from "../api.js";
import { announce, confirmDialog, field, formatDate, h, mount, statusBadge, STATUS_LABELS, toast } from "../dom.js";
import { onReceiptEvent } from "../events.js";
import { categoryList } from "../categories.js";
import { formatMoney, totalsByCurrency } from "../money.js";
import { can } from "../session.js";

const FILTERS = ["q", "date_from", "date_to", "min_total", "max_total", "status", "category", "tag", "sort"];
const SORTS = [
  ["-created_at", "Newest upload"], ["created_at", "Oldest upload"], ["-purchase_date", "Newest purchase"],
  ["purchase_date", "Oldest purchase"], ["-total", "Largest total"], ["total", "Smallest total"],
];
const PAGE = 50;

export async function render(main, { query: urlQuery, navigate }) {
  const values = Object.fromEntries(FILTERS.map((k) => [k, urlQuery.get(k) || ""]));
  const inputs = {
    q: h("input", { type: "search", name: "q", value: values.q, placeholder: "Merchant, item or any text on the receipt", maxlength: 200 }),
    date_from: h("input", { type: "date", name: "date_from", value: values.date_from }),
    date_to: h("input", { type: "date", name: "date_to", value: values.date_to }),
    min_total: h("input", { type: "text", inputmode: "decimal", name: "min_total", value: values.min_total, pattern: "\\d+(\\.\\d+)?" }),
    max_total: h("input", { type: "text", inputmode: "decimal", name: "max_total", value: values.max_total, pattern: "\\d+(\\.\\d+)?" }),
    status: h("select", { name: "status" }, h("option", { value: "" }, "Any status"),
      Object.entries(STATUS_LABELS).map(([v, l]) => h("option", { value: v, selected: values.status === v }, l))),
    category: h("input", { type: "text", name: "category", value: values.category, list: "filter-categories", autocomplete: "off" }),
    tag: h("input", { type: "text", name: "tag", value: values.tag }),
    sort: h("select", { name: "sort" }, SORTS.map(([v, l]) => h("option", { value: v, selected: (values.sort || "-created_at") === v }, l))),
  };
  const apply = (event) => {
    if (event) event.preventDefault();
    const next = {};
    for (const key of FILTERS) next[key] = inputs[key].value.trim();
    if (next.sort === "-created_at") next.sort = "";
    navigate(`/receipts${query(next)}`, { replace: true });
  };
  const activeCount = FILTERS.filter((k) => k !== "q" && k !== "sort" && values[k]).length;
  const wide = window.matchMedia("(min-width: 641px)").matches;
  const form = h("form", { class: "filters card", role: "search", onsubmit: apply },
    field("Search", inputs.q, { className: "search" }),
    h("details", { class: "filters-more", open: wide || activeCount > 0 },
      h("summary", {}, activeCount ? `Filters and sort (${activeCount} on)` : "Filters and sort"),
      h("div", { class: "filters-grid" },
        field("Purchased from", inputs.date_from), field("Purchased until", inputs.date_to),
        field("Total at least", inputs.min_total), field("Total at most", inputs.max_total),
        field("Status", inputs.status), field("Category", inputs.category), field("Tag", inputs.tag), field("Sort by", inputs.sort)),
      categoryList("filter-categories")),
    h("button", { class: "button primary", type: "submit" }, "Search"));
  for (const key of ["status", "sort"]) inputs[key].addEventListener("change", apply);

  const filters = {};
  for (const key of FILTERS) if (values[key]) filters[key] = values[key];
  const active = FILTERS.filter((k) => k !== "sort" && values[k]);

  const items = [];
  const selected = new Set();
  let cursor = null;
  let done = false;
  let loading = false;
  let leaving = false;
  const tbody = h("tbody");
  const totals = h("div", { class: "totals", "aria-live": "polite" });
  const more = h("div", { class: "more" });
  const selectAll = h("input", { type: "checkbox", "aria-label": "Select all shown receipts" });
  const bulkCount = h("span", { class: "bulk-count" });
  const writable = can("receipts:write");
  const bulk = h("div", { class: "bulkbar", hidden: true, role: "region", "aria-label": "Selected receipts" },
    bulkCount,
    h("button", { class: "button", type: "button", onclick: () => exportSelected() }, "Export selected (JSON)"),
    writable ? h("button", { class: "button", type: "button", onclick: () => bulkAction("reextract") }, "Re-extract") : null,
    writable ? h("button", { class: "button danger", type: "button", onclick: () => bulkAction("delete") }, "Delete") : null,
    h("button", { class: "button quiet", type: "button", onclick: () => { selected.clear(); draw(); } }, "Clear selection"));

  const drawTotals = () => {
    const groups = totalsByCurrency(items);
    mount(totals,
      h("span", {}, `${items.length}${done ? "" : "+"} receipt${items.length === 1 ? "" : "s"} shown`),
      groups.map((g) => h("span", {}, "Total ", h("strong", {}, formatMoney(g.total, g.currency) || `${g.total} (no currency)`), ` (${g.count})`)));
  };
  const row = (receipt) => {
    const name = (receipt.merchant && receipt.merchant.name) || receipt.source.filename;
    const check = h("input", { type: "checkbox", checked: selected.has(receipt.id), "aria-label": `Select ${name}`, onchange: () => {
      if (check.checked) selected.add(receipt.id); else selected.delete(receipt.id);
      drawBulk();
    } });
    return h("tr", { dataset: { receiptId: receipt.id } },
      h("td", { class: "select" }, check),
      h("td", {}, h("a", { class: "receipt-link", href: `/receipts/${receipt.id}` }, name),
        h("span", { class: "sub" }, receipt.merchant && receipt.merchant.name ? receipt.source.filename : "")),
      h("td", {}, formatDate(receipt.purchase_date) || h("span", { class: "muted" }, "no date")),
      h("td", { class: "hide-narrow" }, receipt.category || ""),
      h("td", {}, statusBadge(receipt.status)),
      h("td", { class: "num" }, receipt.total ? formatMoney(receipt.total, receipt.currency) : h("span", { class: "muted" }, "—")));
  };
  const drawBulk = () => {
    bulk.hidden = selected.size === 0;
    bulkCount.textContent = `${selected.size} selected`;
    selectAll.checked = items.length > 0 && items.every((r) => selected.has(r.id));
    selectAll.indeterminate = selected.size > 0 && !selectAll.checked;
  };
  const draw = () => {
    if (!items.length && done) {
      mount(tbody, h("tr", {}, h("td", { colspan: 6, class: "empty-cell" },
        active.length
          ? `No receipts match these filters (${active.map((k) => `${k.replace("_", " ")}: ${values[k]}`).join(", ")}). `
          : "No receipts yet. Upload some in the inbox. ",
        active.length ? h("a", { href: "/receipts" }, "Clear the filters") : h("a", { href: "/" }, "Go to the inbox"))));
    } else mount(tbody, items.map(row));
    drawTotals();
    drawBulk();
    mount(more, done ? (items.length ? "End of the list" : "") : h("button", { class: "button", type: "button", onclick: loadMore }, loading ? "Loading…" : "Load more"));
  };
  async function loadMore() {
    if (loading || done) return;
    loading = true;
    try {
      const page = await api(`/api/receipts${query({ ...filters, limit: PAGE, cursor })}`);
      if (leaving) return;
      items.push(...page.items);
      cursor = page.next_cursor;
      done = !cursor || page.items.length === 0;
    } catch (error) {
      done = true;
      toast(`Could not load receipts: ${explain(error)}`, "error");
    } finally {
      loading = false;
    }
    draw();
  }
  const reload = async () => { items.length = 0; cursor = null; done = false; await loadMore(); };

  selectAll.addEventListener("change", () => {
    if (selectAll.checked) items.forEach((r) => selected.add(r.id)); else selected.clear();
    draw();
  });

  async function exportSelected() {
    const chosen = items.filter((r) => selected.has(r.id));
    const blob = new Blob([JSON.stringify(chosen, null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: "receipts-selected.json" });
    document.body.append(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
  async function bulkAction(kind) {
    const ids = [...selected];
    const what = kind === "delete" ? "Delete" : "Re-extract";
    const text = kind === "delete"
      ? `Delete ${ids.length} receipt${ids.length === 1 ? "" : "s"} and their files? This cannot be undone.`
      : `Read ${ids.length} receipt${ids.length === 1 ? "" : "s"} again? Your category, tags and notes are kept; other corrections are replaced by the new reading (they stay in the history).`;
    if (!(await confirmDialog(`${what} receipts`, text, what, kind === "delete" ? "danger" : "primary"))) return;
    let failed = 0;
    for (const id of ids) {
      try {
        if (kind === "delete") await api(`/api/receipts/${id}`, { method: "DELETE" });
        else await api(`/api/receipts/${id}/reextract`, { method: "POST" });
        selected.delete(id);
      } catch (error) {
        failed += 1;
        toast(`${what} failed for one receipt: ${explain(error)}`, "error");
      }
    }
    announce(`${what}: ${ids.length - failed} done${failed ? `, ${failed} failed` : ""}`);
    await reload();
  }

  const exportAll = (format) => download(`/api/receipts/export${query({ ...filters, format })}`, `receipts.${format}`)
    .catch((error) => toast(`Export failed: ${explain(error)}`, "error"));

  mount(main, h("div", { class: "page receipts" },
    h("div", { class: "page-head" }, h("h1", { class: "page-title", tabindex: "-1" }, "Receipts"),
      h("p", { class: "hint hide-narrow" }, "Press ", h("kbd", {}, "/"), " to search.")),
    form,
    h("div", { class: "toolbar" }, totals, h("span", { class: "spacer" }),
      h("button", { class: "button", type: "button", onclick: () => exportAll("csv") }, "Export CSV"),
      h("button", { class: "button", type: "button", onclick: () => exportAll("json") }, "Export JSON")),
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "visually-hidden" }, "Receipts matching the filters"),
      h("thead", {}, h("tr", {}, h("th", { class: "select", scope: "col" }, selectAll), h("th", { scope: "col" }, "Merchant"),
        h("th", { scope: "col" }, "Date"), h("th", { scope: "col", class: "hide-narrow" }, "Category"), h("th", { scope: "col" }, "Status"),
        h("th", { scope: "col", class: "num" }, "Total"))),
      tbody)),
    more, bulk));

  const onKey = (event) => {
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) {
      event.preventDefault();
      inputs.q.focus();
    }
  };
  document.addEventListener("keydown", onKey);
  const observer = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) loadMore(); }, { rootMargin: "400px" });
  observer.observe(more);
  let pending = null;
  const off = onReceiptEvent((event) => {
    // refresh changed rows in place (a new receipt appears on top when sorted by upload)
    clearTimeout(pending);
    pending = setTimeout(async () => {
      if (event.type === "resync" || event.type === "receipt.uploaded" || event.type === "receipt.deleted") { await reload(); return; }
      const index = items.findIndex((r) => r.id === event.payload.id);
      if (index < 0) return;
      try { items[index] = await api(`/api/receipts/${event.payload.id}`); draw(); } catch { /* deleted meanwhile */ }
    }, 300);
  });
  await loadMore();
  return { leave: () => { leaving = true; observer.disconnect(); document.removeEventListener("keydown", onKey); off(); clearTimeout(pending); } };
}
