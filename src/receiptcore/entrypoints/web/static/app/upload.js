// One upload per file (XMLHttpRequest, for upload progress), each with its own Idempotency-Key so a retry after a
// lost answer never stores the file twice.
import { ApiError, token } from "./api.js";

/**
 * Upload one file. `onProgress(fraction)`; resolves with the receipt document (+ duplicate) or rejects ApiError.
 */
export async function uploadFile(file, key, onProgress) {
  const send = (bearer) => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/receipts");
    xhr.setRequestHeader("Authorization", `Bearer ${bearer}`);
    xhr.setRequestHeader("Idempotency-Key", key);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); });
    xhr.addEventListener("load", () => resolve(xhr));
    xhr.addEventListener("error", () => reject(new ApiError(0, { detail: "the upload was interrupted; check your connection" })));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
  let bearer = await token();
  if (!bearer) throw new ApiError(401, { detail: "please sign in again" });
  let xhr = await send(bearer);
  if (xhr.status === 401) {
    bearer = await token();
    if (bearer) xhr = await send(bearer);
  }
  const body = xhr.response || {};
  if (xhr.status >= 200 && xhr.status < 300) return body.receipts[0];
  const retry = xhr.getResponseHeader("Retry-After");
  throw new ApiError(xhr.status, body, { get: (name) => (name === "Retry-After" ? retry : null) });
}

export const ACCEPT = "image/jpeg,image/png,image/webp,application/pdf,.jpg,.jpeg,.png,.webp,.pdf";
