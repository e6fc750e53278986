// The REST API client: the access token lives in this module's memory only; the refresh token is the HttpOnly
// cookie the server set (Path=/auth), so a reload or an expired access token is recovered by POST /auth/refresh.

let accessToken = null;
let expiresAt = 0; // ms since the epoch
let refreshing = null;
let refreshTimer = null;
const HINT_KEY = "receiptcore.session"; // "a refresh cookie probably exists": never a token
const signedOutListeners = new Set();

/** An RFC 9457 problem from the API (or a network failure: status 0). */
export class ApiError extends Error {
  constructor(status, problem = {}, headers = null) {
    super(problem.detail || problem.title || (status ? `HTTP ${status}` : "the server cannot be reached"));
    this.status = status;
    this.problem = problem;
    this.type = (problem.type || "").split("/").pop() || (status ? "http-error" : "network-error");
    this.errors = problem.errors || [];
    const retry = headers && headers.get("Retry-After");
    this.retryAfter = retry ? Number.parseInt(retry, 10) : null;
  }
}

export function onSignedOut(listener) { signedOutListeners.add(listener); }

export function hasSessionHint() { return localStorage.getItem(HINT_KEY) === "1"; }

function setToken(body) {
  accessToken = body.access_token;
  expiresAt = Date.now() + body.expires_in * 1000;
  localStorage.setItem(HINT_KEY, "1");
  clearTimeout(refreshTimer);
  // renew ahead of expiry, so that requests and the event stream never meet an expired token
  const ahead = Math.max(5, Math.min(60, body.expires_in * 0.2)) * 1000;
  refreshTimer = setTimeout(() => { refresh().catch(() => {}); }, Math.max(1000, body.expires_in * 1000 - ahead));
}

export function clearToken() {
  accessToken = null;
  expiresAt = 0;
  clearTimeout(refreshTimer);
  localStorage.removeItem(HINT_KEY);
}

async function problemOf(response) {
  let body = {};
  try { body = await response.json(); } catch { body = {}; }
  return new ApiError(response.status, body, response.headers);
}

/** Sign in; throws ApiError (401 invalid-credentials, 429 rate-limited with retryAfter). */
export async function login(email, password) {
  const response = await fetch("/auth/login", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) throw await problemOf(response);
  setToken(await response.json());
}

/** Exchange the refresh cookie for a new access token (one request at a time). Resolves true when signed in. */
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const response = await fetch("/auth/refresh", { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!response.ok) {
          clearToken();
          return false;
        }
        setToken(await response.json());
        return true;
      } catch {
        return accessToken !== null; // offline: keep what we have
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

/** A valid access token, refreshed first when it is about to expire; null when signed out. */
export async function token() {
  if (accessToken && Date.now() < expiresAt - 5000) return accessToken;
  if (await refresh()) return accessToken;
  return null;
}

export async function logout() {
  clearToken();
  try { await fetch("/auth/logout", { method: "POST", credentials: "same-origin" }); } catch { /* offline */ }
}

/** A query string from an object, skipping empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * Call the API. `body` objects are sent as JSON; `raw: true` returns the Response (files, exports).
 * A 401 refreshes the token once and retries; a second 401 signs the person out.
 */
export async function api(path, { method = "GET", body, headers = {}, raw = false, signal } = {}) {
  const send = async () => {
    const bearer = await token();
    if (!bearer) throw new ApiError(401, { type: "token-rejected", detail: "please sign in again" });
    const init = { method, signal, headers: { Accept: "application/json", ...headers, Authorization: `Bearer ${bearer}` } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    try {
      return await fetch(path, init);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, { detail: "the server cannot be reached; check your connection" });
    }
  };
  let response;
  try {
    response = await send();
    if (response.status === 401 && (await refresh())) response = await send();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signOutEverywhere();
    throw error;
  }
  if (response.status === 401) {
    signOutEverywhere();
    throw await problemOf(response);
  }
  if (!response.ok) throw await problemOf(response);
  if (raw) return response;
  if (response.status === 204) return null;
  const result = await response.json();
  const tag = response.headers.get("ETag");
  if (tag && result && typeof result === "object") Object.defineProperty(result, "etag", { value: tag, enumerable: false });
  return result;
}

function signOutEverywhere() {
  clearToken();
  for (const listener of signedOutListeners) listener();
}

/** Download an API response (export, original file) through the bearer token, as a file. */
export async function download(path, fallbackName) {
  const response = await api(path, { raw: true, headers: { Accept: "*/*" } });
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*=UTF-8''([^;]+)|filename="([^"]+)"/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1] || match[2]) : fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A human sentence for an API error. */
export function explain(error) {
  if (!(error instanceof ApiError)) return String(error && error.message ? error.message : error);
  const fields = error.errors.filter((e) => e.field).map((e) => `${e.field}: ${e.message}`);
  return fields.length ? `${error.message} (${fields.join("; ")})` : error.message;
}
