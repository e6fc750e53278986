// Who is signed in, and what they may do (from GET /auth/me). The API enforces permissions anyway; the client only
// hides what would be refused.
import { api, clearToken, hasSessionHint, logout, refresh } from "./api.js";

export const session = { user: null, preferences: null };

/** Restore a session from the refresh cookie (only when one probably exists: no failing request otherwise). */
export async function restore() {
  if (!hasSessionHint()) return false;
  if (!(await refresh())) return false;
  return loadUser();
}

export async function loadUser() {
  try {
    session.user = await api("/auth/me");
  } catch {
    session.user = null;
    clearToken();
    return false;
  }
  await loadPreferences();
  return true;
}

/** The signed-in person's preferences (GET /auth/me/preferences); null when they cannot be read (the pages then
 * fall back to their own defaults: a preference is never a reason to fail signing in). */
export async function loadPreferences() {
  try {
    session.preferences = await api("/auth/me/preferences");
  } catch {
    session.preferences = null;
  }
  return session.preferences;
}

export async function signOut() {
  session.user = null;
  session.preferences = null;
  await logout();
}

/** Whether the signed-in person holds a permission (a "*:any" permission implies its base). */
export function can(permission) {
  const held = session.user ? session.user.permissions : [];
  return held.includes(permission) || held.includes(`${permission}:any`);
}

export function isAdminish() {
  return can("users:read") || can("users:manage") || can("roles:manage");
}

// Where earlier versions kept the currency in this browser; now the server holds it per user (issue 12).
localStorage.removeItem("receiptcore.currency");

/** The person's default currency (theirs, else the install's; "" when neither): the server assumes it for their
 * receipts that print none, and the dashboard opens in it. */
export function preferredCurrency() { return (session.preferences && session.preferences.default_currency) || ""; }

/** Store the person's default currency on the server ("" or null: follow the install's default again); resolves
 * to the new preferences, rejects with the API's ApiError (422 for a code that is not ISO 4217). */
export async function setPreferredCurrency(code) {
  const value = code ? code.trim().toUpperCase() : null;
  session.preferences = await api("/auth/me/preferences", { method: "PATCH", body: { default_currency: value } });
  return session.preferences;
}
