// /settings: my account, my password (changing it ends every session, this one included), my default currency
// (kept by the server: assumed for my receipts that print none, and the dashboard's first currency), and signing out.
import { api, ApiError, explain } from "../api.js";
import { field, formatTimestamp, h, mount, toast } from "../dom.js";
import { stopEvents } from "../events.js";
import { loadPreferences, preferredCurrency, session, setPreferredCurrency, signOut } from "../session.js";

export function render(main, { navigate }) {
  const user = session.user;
  const current = h("input", { type: "password", autocomplete: "current-password", required: true });
  const next = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: 12, maxlength: 1024 });
  const again = h("input", { type: "password", autocomplete: "new-password", required: true });
  const error = h("p", { class: "form-error", role: "alert" });
  const passwordForm = h("form", { onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (next.value !== again.value) { error.textContent = "The two new passwords are not the same."; again.focus(); return; }
    try {
      await api("/auth/password", { method: "POST", body: { current_password: current.value, new_password: next.value } });
      stopEvents();
      await signOut();
      toast("Password changed. Sign in with the new password.");
      navigate("/login", { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && err.type === "invalid-credentials") error.textContent = "The current password is not right.";
      else if (err instanceof ApiError && err.type === "weak-password") error.textContent = `Choose another password: ${err.message}`;
      else error.textContent = explain(err);
    }
  } },
  field("Current password", current),
  field("New password", next, { hint: "At least 12 characters; a few unrelated words work well." }),
  field("New password again", again),
  error,
  h("button", { class: "button primary", type: "submit" }, "Change password"),
  h("p", { class: "hint" }, "Changing your password signs you out everywhere, on every device."));

  const currency = h("input", { type: "text", maxlength: 3, value: ownCurrency(), pattern: "[A-Za-z]{3}", autocomplete: "off" });
  const currencyError = h("p", { class: "form-error", role: "alert" });
  const currencyHint = h("p", { class: "hint" }, currencyNote());
  const currencyForm = h("form", { onsubmit: async (event) => {
    event.preventDefault();
    currencyError.textContent = "";
    const code = currency.value.trim();
    if (code && !/^[A-Za-z]{3}$/.test(code)) { currencyError.textContent = "A currency is a three-letter code such as EUR."; currency.focus(); return; }
    try {
      await setPreferredCurrency(code);
      currency.value = ownCurrency();
      currencyHint.textContent = currencyNote();
      const now = preferredCurrency();
      toast(now ? `Receipts without a currency are read as ${now}.` : "Receipts without a currency go to review.");
    } catch (err) {
      currencyError.textContent = err instanceof ApiError && err.status === 422 ? `${code.toUpperCase()} is not an ISO 4217 currency code.` : explain(err);
      currency.focus();
    }
  } },
  field("Default currency", currency, { hint: "ISO code such as EUR, USD, MYR. Empty: the install's default." }),
  currencyHint,
  currencyError,
  h("button", { class: "button", type: "submit" }, "Save"));
  // another tab or device may have changed it since sign-in
  loadPreferences().then(() => { if (document.activeElement !== currency) currency.value = ownCurrency(); currencyHint.textContent = currencyNote(); });

  mount(main, h("div", { class: "page settings" },
    h("div", { class: "page-head" }, h("h1", { class: "page-title", tabindex: "-1" }, "Settings")),
    h("div", { class: "settings-grid" },
      h("section", { class: "card", "aria-labelledby": "acct" }, h("h2", { id: "acct" }, "Account"),
        h("dl", {}, h("dt", {}, "Email"), h("dd", {}, user.email), h("dt", {}, "Name"), h("dd", {}, user.display_name || "—"),
          h("dt", {}, "Roles"), h("dd", {}, user.roles.join(", ")), h("dt", {}, "Member since"), h("dd", {}, formatTimestamp(user.created_at)))),
      h("section", { class: "card", "aria-labelledby": "pw" }, h("h2", { id: "pw" }, "Password"), passwordForm),
      h("section", { class: "card", "aria-labelledby": "pref" }, h("h2", { id: "pref" }, "Preferences"), currencyForm),
      h("section", { class: "card", "aria-labelledby": "sess" }, h("h2", { id: "sess" }, "Sessions"),
        h("p", {}, "This browser keeps you signed in with a cookie only the server can read; the access key lives in memory and renews itself."),
        h("p", {}, "To end the sessions on all your devices, change your password."),
        h("button", { class: "button", type: "button", onclick: () => document.getElementById("signout").click() }, "Sign out of this browser")))));
}

/** The person's own choice ("" when they follow the install's default). */
function ownCurrency() {
  const prefs = session.preferences;
  return prefs && prefs.default_currency_source === "user" ? prefs.default_currency : "";
}

/** What the server assumes for a receipt that prints no currency, and why. */
function currencyNote() {
  const prefs = session.preferences;
  if (!prefs) return "Your preferences could not be read; try again later.";
  if (prefs.default_currency_source === "user") return `Receipts that print no currency are read as ${prefs.default_currency} (marked as assumed). The dashboard opens in it.`;
  if (prefs.default_currency) return `You follow this install's default, ${prefs.default_currency}: receipts that print no currency are read as ${prefs.default_currency} (marked as assumed).`;
  return "No default: receipts that print no currency go to review.";
}
