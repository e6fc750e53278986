// Who is signed in, and what they may do (from GET /auth/me). The API enforces permissions anyway; the client only
// hides what would be refused.
import { api, clearToken, hasSessionHint, logout, refresh } from "./api.js";

export const session = { user: null };

/** Restore a session from the refresh cookie (only when one probably exists: no failing request otherwise). */
export async function restore() {
  if (!hasSessionHint()) return false;
  if (!(await refresh())) return false;
  return loadUser();
}

export async function loadUser() {
  try {
    session.user = await api("/auth/me");
    return true;
  } catch {
    session.user = null;
    clearToken();
    return false;
  }
}

export async function signOut() {
  session.user = null;
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

const CURRENCY_KEY = "receiptcore.currency";

/** The person's preferred currency for the dashboard (a display preference kept in this browser). */
export function preferredCurrency() { return localStorage.getItem(CURRENCY_KEY) || ""; }
export function setPreferredCurrency(code) {
  if (code) localStorage.setItem(CURRENCY_KEY, code.toUpperCase());
  else localStorage.removeItem(CURRENCY_KEY);
}
