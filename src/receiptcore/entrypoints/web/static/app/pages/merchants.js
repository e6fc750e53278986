// /merchants: the person's merchant directory (GET /api/merchants, with each merchant's receipts and spend per
// currency), its known spellings, rename, and merging several into one.
// /merchants/{id}: one merchant: rename, address, the category it gives new receipts, its receipts.
// Errors are the API's problem documents, said in words next to what failed.
import { api, ApiError, explain, query } from "../api.js";
import { announce, field, formatDate, h, heading, mount, statusBadge, toast } from "../dom.js";
import { onReceiptEvent } from "../events.js";
import { categoryList, nameKey } from "../categories.js";
import { formatMoney } from "../money.js";
import { can, session } from "../session.js";

const PAGE = 500;
const SORTS = [["receipts", "Most receipts"], ["name", "Name"], ["recent", "Recently changed"]];

async function allMerchants() {
  const out = [];
  let after = null;
  do {
    const page = await api(`/api/merchants${query({ limit: PAGE, after })}`);
    out.push(...page.items);
    after = page.next_cursor;
  } while (after);
  return out;
}

/** A merchant's receipts and spend per currency, as GET /api/merchants gives them (computed by the server). */
function spendOf(merchant) {
  return { count: merchant.receipts || 0, totals: merchant.spend || [] };
}

function moneyLines(totals) {
  if (!totals.length) return h("span", { class: "muted" }, "—");
  return totals.map((t) => h("span", { class: "money-line" }, t.currency ? formatMoney(t.total, t.currency) : `${t.total} (no currency)`));
}

function spellingChips(merchant, label) {
  if (!merchant.variants.length) return h("span", { class: "muted" }, "only its name");
  return h("ul", { class: "chips", "aria-label": label }, merchant.variants.map((v) => h("li", { class: "chip" }, v)));
}

/** What a problem from the merchant API means for the person (409: the name is taken; 412: changed meanwhile). */
function problemText(error, name) {
  if (error instanceof ApiError && error.status === 409) return `You already have a merchant called “${name}”. Merge the two instead.`;
  if (error instanceof ApiError && error.status === 412) return "Someone changed this merchant meanwhile. The page shows it as it is now; try again.";
  if (error instanceof ApiError && error.status === 404) return "This merchant no longer exists (merged or renamed elsewhere). The list is up to date again.";
  return explain(error);
}

/**
 * A modal form that stays open while its action fails, with the API's message inside it. `fill(form)` returns the
 * form's controls; `act()` resolves to a value (closes the dialog) or throws (the message is shown, focus stays).
 */
function formDialog(title, fill, { submit, kind = "primary", act }) {
  return new Promise((resolve) => {
    const titleId = `dlg-${Math.random().toString(36).slice(2, 8)}`;
    const error = h("p", { class: "form-error", role: "alert" });
    const submitButton = h("button", { class: ["button", kind], type: "submit" }, submit);
    let result = null;
    const form = h("form", { novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      submitButton.disabled = true;
      try {
        result = await act();
        dlg.close("done");
      } catch (err) {
        error.textContent = (err && err.sentence) || explain(err);
      } finally {
        submitButton.disabled = false;
      }
    } },
    h("h2", { id: titleId }, title), fill(), error,
    h("div", { class: "actions" }, h("button", { class: "button", type: "button", onclick: () => dlg.close("cancel") }, "Cancel"), submitButton));
    const dlg = h("dialog", { class: "dialog", "aria-labelledby": titleId }, form);
    dlg.addEventListener("close", () => { dlg.remove(); resolve(result); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** An error whose sentence is what the dialog shows. */
function failure(error, sentence) {
  return Object.assign(error instanceof Error ? error : new Error(sentence), { sentence });
}

/** Ask for a new name and rename (PATCH with the version); resolves to the API's {merchant, receipts_updated} or null. */
export function renameMerchant(merchant) {
  const input = h("input", { type: "text", value: merchant.name, maxlength: 500, required: true, autocomplete: "off" });
  return formDialog(`Rename “${merchant.name}”`, () => [
    field("New name", input, { hint: "Your receipts of this merchant get the new name. The old name stays a known spelling, so new receipts printed with it still find this merchant." }),
  ], { submit: "Rename", act: async () => {
    const name = input.value.trim();
    if (!name) { input.focus(); throw failure(null, "Type the new name."); }
    if (name === merchant.name) { input.focus(); throw failure(null, "That is its name already."); }
    try {
      return await api(`/api/merchants/${merchant.id}`, { method: "PATCH", body: { name }, headers: { "If-Match": `"${merchant.version}"` } });
    } catch (error) {
      input.focus();
      throw failure(error, problemText(error, name));
    }
  } });
}

function receiptCount(n) { return `${n} receipt${n === 1 ? "" : "s"}`; }

function relabelled(count) {
  return count ? `${count} receipt${count === 1 ? "" : "s"} renamed` : "no receipt needed renaming";
}

export async function render(main, ctx) {
  if (ctx.params[0]) return merchantPage(main, ctx.params[0]);
  return listPage(main, ctx);
}

async function listPage(main, { query: urlQuery, navigate }) {
  const writable = can("receipts:write");
  const filterInput = h("input", { type: "search", name: "q", value: urlQuery.get("q") || "", maxlength: 200, placeholder: "Name or spelling", autocomplete: "off" });
  const sortSelect = h("select", { name: "sort" }, SORTS.map(([v, l]) => h("option", { value: v, selected: (urlQuery.get("sort") || "receipts") === v }, l)));
  const errorBox = h("div", { class: "form-error", role: "alert" });
  const everyone = can("receipts:read:any") && urlQuery.get("owners") === "all";
  const ownersToggle = can("receipts:read:any")
    ? h("label", { class: "choice owners" }, h("input", { type: "checkbox", checked: everyone,
      onchange: (event) => navigate(urlFor({ owners: event.target.checked ? "all" : "" }), { replace: true }) }), "Show other people's merchants too")
    : null;
  const summary = h("p", { class: "hint", "aria-live": "polite" });
  const tbody = h("tbody");
  const selected = new Set();
  const bulkCount = h("span", { class: "bulk-count" });
  const mergeButton = h("button", { class: "button primary", type: "button", onclick: () => mergeSelected() }, "Merge…");
  const bulk = h("div", { class: "bulkbar", hidden: true, role: "region", "aria-label": "Selected merchants" },
    bulkCount, mergeButton,
    h("button", { class: "button quiet", type: "button", onclick: () => { selected.clear(); draw(); } }, "Clear selection"));
  let merchants = [];
  let leaving = false;

  const urlFor = ({ owners = everyone ? "all" : "" } = {}) => {
    const sort = sortSelect.value === "receipts" ? "" : sortSelect.value;
    return `/merchants${query({ q: filterInput.value.trim(), sort, owners })}`;
  };
  const keepUrl = () => history.replaceState(null, "", urlFor());
  filterInput.addEventListener("input", () => { keepUrl(); draw(); });
  sortSelect.addEventListener("change", () => { keepUrl(); draw(); });

  const shown = () => {
    const needle = nameKey(filterInput.value);
    const list = merchants.filter((m) => !needle || [m.name, ...m.variants, m.address || ""].some((s) => nameKey(s).includes(needle)));
    const sort = sortSelect.value;
    return list.sort((a, b) => {
      if (sort === "recent") return b.updated_at.localeCompare(a.updated_at);
      if (sort === "receipts") {
        const diff = spendOf(b).count - spendOf(a).count;
        if (diff) return diff;
      }
      return a.name.localeCompare(b.name);
    });
  };

  const row = (m) => {
    const stats = spendOf(m);
    const mine = m.owner_id === session.user.id;
    const check = h("input", { type: "checkbox", checked: selected.has(m.id), "aria-label": `Select ${m.name}`, onchange: () => {
      if (check.checked) selected.add(m.id); else selected.delete(m.id);
      drawBulk();
    } });
    return h("tr", { dataset: { merchantId: m.id } },
      writable ? h("td", { class: "select" }, check) : null,
      h("td", {}, h("a", { class: "receipt-link", href: `/merchants/${m.id}` }, m.name),
        m.address ? h("span", { class: "sub hide-narrow" }, m.address) : null,
        mine ? null : h("span", { class: "sub" }, "another person's")),
      h("td", { class: "hide-narrow" }, spellingChips(m, `Known spellings of ${m.name}`)),
      h("td", { class: "hide-narrow" }, m.category || h("span", { class: "muted" }, "none")),
      h("td", { class: "num" }, String(stats.count)),
      h("td", { class: "num" }, moneyLines(stats.totals)),
      // on a phone, renaming is on the merchant's own page (the row keeps name, count and spend in view)
      writable ? h("td", { class: "hide-narrow" }, h("button", { class: "button small", type: "button", "aria-label": `Rename ${m.name}`, onclick: () => rename(m) }, "Rename")) : null);
  };

  const drawBulk = () => {
    const chosen = merchants.filter((m) => selected.has(m.id));
    bulk.hidden = chosen.length === 0;
    bulkCount.textContent = `${chosen.length} selected`;
    mergeButton.disabled = chosen.length < 2;
    mergeButton.title = chosen.length < 2 ? "Select two or more merchants to merge" : "";
  };

  const draw = () => {
    const list = shown();
    const cols = writable ? 7 : 5;
    if (!merchants.length) {
      mount(tbody, h("tr", {}, h("td", { colspan: cols, class: "empty-cell" },
        "No merchants yet. Each shop is added here when one of your receipts is read; ", h("a", { href: "/" }, "upload receipts in the inbox"), ".")));
    } else if (!list.length) {
      mount(tbody, h("tr", {}, h("td", { colspan: cols, class: "empty-cell" },
        `No merchant's name or spelling contains “${filterInput.value.trim()}”. `,
        h("button", { class: "button small", type: "button", onclick: () => { filterInput.value = ""; keepUrl(); draw(); } }, "Show all"))));
    } else mount(tbody, list.map(row));
    summary.textContent = merchants.length
      ? `${list.length === merchants.length ? merchants.length : `${list.length} of ${merchants.length}`} merchant${merchants.length === 1 ? "" : "s"}. Receipts counts all of a merchant's receipts; spent adds up those with a total.`
      : "";
    for (const id of [...selected]) if (!merchants.some((m) => m.id === id)) selected.delete(id);
    drawBulk();
  };

  const load = async () => {
    try {
      const every = await allMerchants();
      // with receipts:read:any the API lists everyone's merchants: one's own unless others' are asked for
      const list = everyone ? every : every.filter((m) => m.owner_id === session.user.id);
      if (leaving) return;
      merchants = list;
      errorBox.textContent = "";
      draw();
    } catch (error) {
      errorBox.textContent = `The merchants cannot be loaded: ${explain(error)}`;
    }
  };

  async function rename(merchant) {
    const outcome = await renameMerchant(merchant);
    if (!outcome) return;
    const note = `Renamed to “${outcome.merchant.name}”: ${relabelled(outcome.receipts_updated)}.`;
    toast(note);
    await load();
  }

  async function mergeSelected() {
    const chosen = merchants.filter((m) => selected.has(m.id));
    if (chosen.length < 2) return;
    const owners = new Set(chosen.map((m) => m.owner_id));
    if (owners.size > 1) {
      errorBox.textContent = "These merchants belong to different people; only one person's merchants can be merged.";
      return;
    }
    chosen.sort((a, b) => spendOf(b).count - spendOf(a).count || a.name.localeCompare(b.name));
    let keep = chosen[0].id;
    const consequence = h("p", {});
    const explainChoice = () => {
      const target = chosen.find((m) => m.id === keep);
      const others = chosen.filter((m) => m.id !== keep);
      const moving = others.reduce((n, m) => n + spendOf(m).count, 0);
      consequence.textContent = `${others.map((m) => `“${m.name}”`).join(", ")} will become known spellings of “${target.name}”, and `
        + `${moving ? `their ${moving} receipt${moving === 1 ? "" : "s"}` : "their receipts"} will be renamed “${target.name}”. `
        + "Future receipts printed with any of these names will be filed under it. This cannot be undone.";
    };
    explainChoice();
    const outcome = await formDialog(`Merge ${chosen.length} merchants`, () => [
      h("fieldset", { class: "checks stacked" }, h("legend", {}, "Keep this name"),
        chosen.map((m) => h("label", {}, h("input", { type: "radio", name: "keep", value: m.id, checked: m.id === keep, onchange: () => { keep = m.id; explainChoice(); } }),
          `${m.name} `, h("span", { class: "muted" }, `(${receiptCount(spendOf(m).count)})`)))),
      consequence,
    ], { submit: "Merge", act: async () => {
      const target = chosen.find((m) => m.id === keep);
      try {
        return await api(`/api/merchants/${target.id}/merge`, { method: "POST", body: { merge: chosen.filter((m) => m.id !== keep).map((m) => m.id) },
          headers: { "If-Match": `"${target.version}"` } });
      } catch (error) {
        if (error instanceof ApiError && [404, 412].includes(error.status)) load();
        throw failure(error, problemText(error, target.name));
      }
    } });
    if (!outcome) return;
    selected.clear();
    const note = `Merged into “${outcome.merchant.name}”: ${relabelled(outcome.receipts_updated)}.`;
    toast(note);
    await load();
  }

  mount(main, h("div", { class: "page merchants" },
    h("div", { class: "page-head" }, heading("Merchants"),
      h("p", { class: "hint" }, "Your shops, each under one name. The spellings the scanner read are remembered, so new receipts are filed under the right name.",
        h("span", { class: "hide-narrow" }, " Press ", h("kbd", {}, "/"), " to find one."))),
    errorBox,
    h("form", { class: "filters card merchant-filters", role: "search", onsubmit: (e) => e.preventDefault() },
      field("Find a merchant", filterInput, { className: "search" }), field("Sort by", sortSelect), ownersToggle),
    summary,
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "visually-hidden" }, "Your merchants"),
      h("thead", {}, h("tr", {},
        writable ? h("th", { class: "select", scope: "col" }, h("span", { class: "visually-hidden" }, "Select")) : null,
        h("th", { scope: "col" }, "Merchant"), h("th", { scope: "col", class: "hide-narrow" }, "Known spellings"),
        h("th", { scope: "col", class: "hide-narrow" }, "Category"), h("th", { scope: "col", class: "num" }, "Receipts"),
        h("th", { scope: "col", class: "num" }, "Spent"), writable ? h("th", { scope: "col", class: "hide-narrow" }, h("span", { class: "visually-hidden" }, "Actions")) : null)),
      tbody)),
    writable ? h("p", { class: "hint" }, "Select two or more merchants that are the same shop to merge them.") : null,
    bulk));

  const onKey = (event) => {
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !document.querySelector("dialog[open]")
      && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) {
      event.preventDefault();
      filterInput.focus();
    }
  };
  document.addEventListener("keydown", onKey);
  let pending = null;
  const off = onReceiptEvent(() => { clearTimeout(pending); pending = setTimeout(load, 800); });
  await load();
  return { leave: () => { leaving = true; off(); clearTimeout(pending); document.removeEventListener("keydown", onKey); } };
}

/** The receipts of `merchant` (its owner's, under any of its spellings): GET /api/receipts?merchant_id, newest first. */
async function receiptsOf(merchant) {
  const found = [];
  let cursor = null;
  do {
    const page = await api(`/api/receipts${query({ merchant_id: merchant.id, sort: "-purchase_date", limit: 500, cursor })}`);
    found.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return found;
}

async function merchantPage(main, id) {
  const writable = can("receipts:write");
  let merchant;
  try {
    merchant = await api(`/api/merchants/${id}`);
  } catch (error) {
    mount(main, h("div", { class: "page" }, heading("Merchant not found"),
      h("p", {}, error.status === 404 ? "There is no such merchant, or it is not one you can see. Merged merchants live on under the name they were merged into." : explain(error)),
      h("a", { href: "/merchants" }, "All merchants")));
    return null;
  }
  let leaving = false;
  const nameInput = h("input", { type: "text", maxlength: 500, autocomplete: "off", required: true });
  const addressInput = h("textarea", { rows: 2, maxlength: 500 });
  const categoryInput = h("input", { type: "text", maxlength: 64, list: "merchant-categories", autocomplete: "off" });
  const formError = h("p", { class: "form-error", role: "alert" });
  const saveButton = h("button", { class: "button primary", type: "submit", disabled: !writable }, "Save");
  const receiptsBox = h("div", { "aria-live": "polite" });
  const title = heading(merchant.name);
  const spellings = h("div");
  const figures = h("div", { class: "kpis" });
  const searchLink = h("a", {});

  const fill = () => {
    title.textContent = merchant.name;
    document.title = `${merchant.name} · receiptcore`;
    nameInput.value = merchant.name;
    addressInput.value = merchant.address || "";
    categoryInput.value = merchant.category || "";
    for (const input of [nameInput, addressInput, categoryInput]) input.disabled = !writable;
    mount(spellings, spellingChips(merchant, "Known spellings"));
    searchLink.href = `/receipts${query({ q: merchant.name })}`;
    searchLink.textContent = `Search all receipts for “${merchant.name}”`;
  };
  const changes = () => {
    const out = {};
    const name = nameInput.value.trim();
    if (name !== merchant.name) out.name = name;
    const address = addressInput.value.trim() || null;
    if (address !== (merchant.address || null)) out.address = address;
    const category = categoryInput.value.trim() || null;
    if (category !== (merchant.category || null)) out.category = category;
    return out;
  };

  const form = h("form", { class: "card merchant-form", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    formError.textContent = "";
    const body = changes();
    if (!Object.keys(body).length) { announce("Nothing to save"); return; }
    if (body.name === "") { formError.textContent = "A merchant needs a name."; nameInput.focus(); return; }
    saveButton.disabled = true;
    try {
      const outcome = await api(`/api/merchants/${merchant.id}`, { method: "PATCH", body, headers: { "If-Match": `"${merchant.version}"` } });
      merchant = outcome.merchant;
      fill();
      const note = body.name ? `Saved: ${relabelled(outcome.receipts_updated)}.` : "Saved.";
      toast(note);
      if (body.name) await drawReceipts();
    } catch (error) {
      formError.textContent = problemText(error, body.name || merchant.name);
      if (error instanceof ApiError && error.status === 409) {
        formError.append(" ", h("a", { href: `/merchants?q=${encodeURIComponent(body.name)}` }, "Find it in your merchants"));
        nameInput.focus();
      }
      if (error instanceof ApiError && error.status === 412) { merchant = await api(`/api/merchants/${merchant.id}`); fill(); }
    } finally {
      saveButton.disabled = !writable;
    }
  } },
  h("h2", {}, "Details"),
  field("Name", nameInput, { hint: "Renaming renames your receipts of this merchant; the old name stays a known spelling." }),
  field("Address", addressInput, { hint: "Filled in on new receipts that print none." }),
  field("Category", categoryInput, { hint: "New receipts of this merchant get it (for you only). Correcting a receipt's category sets it too." }),
  categoryList("merchant-categories"),
  formError,
  h("div", { class: "actions" }, saveButton));

  const drawReceipts = async () => {
    mount(receiptsBox, h("p", { class: "hint" }, "Loading the receipts…"));
    let receipts;
    let counted;
    try {
      // the figures are the server's (GET /api/merchants/{id}); the list is GET /api/receipts?merchant_id
      [receipts, counted] = await Promise.all([receiptsOf(merchant), api(`/api/merchants/${merchant.id}`)]);
    } catch (error) {
      mount(receiptsBox, h("p", { class: "form-error", role: "alert" }, `The receipts cannot be loaded: ${explain(error)}`));
      return;
    }
    if (leaving) return;
    const { count, totals } = spendOf(counted);
    mount(figures,
      h("div", { class: "card kpi" }, h("div", { class: "label" }, "Receipts"), h("div", { class: "value", id: "merchant-count" }, String(count))),
      totals.map((t) => h("div", { class: "card kpi" }, h("div", { class: "label" }, `Spent${t.currency ? ` (${t.currency})` : ""}`),
        h("div", { class: "value" }, t.currency ? formatMoney(t.total, t.currency) : t.total))));
    mount(receiptsBox, receipts.length
      ? h("div", { class: "table-wrap" }, h("table", {},
        h("caption", { class: "visually-hidden" }, `Receipts of ${merchant.name}`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Date"), h("th", { scope: "col" }, "Name on the receipt"), h("th", { scope: "col", class: "hide-narrow" }, "Category"),
          h("th", { scope: "col" }, "Status"), h("th", { scope: "col", class: "num" }, "Total"))),
        h("tbody", {}, receipts.map((r) => h("tr", {},
          h("td", {}, h("a", { class: "receipt-link", href: `/receipts/${r.id}` }, formatDate(r.purchase_date) || "no date")),
          h("td", {}, r.merchant.name), h("td", { class: "hide-narrow" }, r.category || ""), h("td", {}, statusBadge(r.status)),
          h("td", { class: "num" }, r.total ? formatMoney(r.total, r.currency) : h("span", { class: "muted" }, "—")))))))
      : h("p", { class: "empty" }, "No receipts carry this merchant's name or spellings."));
  };

  fill();
  mount(main, h("div", { class: "page merchant" },
    h("p", { class: "crumbs" }, h("a", { href: "/merchants" }, "← All merchants")),
    h("div", { class: "page-head" }, title,
      writable ? h("button", { class: "button", type: "button", onclick: async () => {
        const outcome = await renameMerchant(merchant);
        if (!outcome) return;
        merchant = outcome.merchant;
        fill();
        toast(`Renamed: ${relabelled(outcome.receipts_updated)}.`);
        await drawReceipts();
      } }, "Rename…") : null),
    figures,
    h("div", { class: "merchant-grid" },
      form,
      h("section", { class: "card", "aria-labelledby": "spellings-title" }, h("h2", { id: "spellings-title" }, "Known spellings"),
        h("p", { class: "hint" }, "Receipts printed with any of these names are filed under this merchant. A spelling is added when you correct a receipt's merchant, or merge merchants."),
        spellings)),
    h("section", { class: "section", "aria-labelledby": "receipts-title" },
      h("div", { class: "page-head" }, h("h2", { id: "receipts-title" }, "Receipts"),
        searchLink),
      receiptsBox)));
  let pending = null;
  const off = onReceiptEvent(() => { clearTimeout(pending); pending = setTimeout(() => { if (!leaving) drawReceipts(); }, 800); });
  await drawReceipts();
  return { dirty: () => writable && Object.keys(changes()).length > 0, leave: () => { leaving = true; off(); clearTimeout(pending); } };
}
