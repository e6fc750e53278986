// The live event stream (GET /api/events, server-sent events) read through fetch, because EventSource cannot send
// the bearer token. The stream ends when the access token expires; we reconnect with a fresh one quietly and tell
// listeners to catch up ("resync"), since events are not replayed.
import { token } from "./api.js";

const listeners = new Set();
let controller = null;
let connected = false;

/** Listen to receipt events ({type, payload: {id, status, version}}) and "resync"; returns an unsubscribe. */
export function onReceiptEvent(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function emit(event) {
  for (const listener of [...listeners]) {
    try { listener(event); } catch (error) { console.warn("event listener failed", error); }
  }
}

export function isLive() { return connected; }

export function startEvents() {
  if (controller) return;
  controller = new AbortController();
  run(controller.signal);
}

export function stopEvents() {
  if (controller) controller.abort();
  controller = null;
  connected = false;
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
});

async function run(signal) {
  let attempt = 0;
  while (!signal.aborted) {
    try {
      const bearer = await token();
      if (!bearer) { await sleep(5000, signal); continue; }
      const response = await fetch("/api/events", { headers: { Authorization: `Bearer ${bearer}`, Accept: "text/event-stream" }, signal });
      if (response.ok && response.body) {
        await read(response.body.getReader(), attempt > 0);
        attempt = 0;
      }
    } catch (error) {
      if (signal.aborted) break;
    }
    connected = false;
    attempt += 1;
    // quick after a normal end (token renewal), backing off while the server is away
    await sleep(attempt <= 1 ? 250 : Math.min(15000, 1000 * 2 ** Math.min(attempt - 1, 4)), signal);
  }
}

async function read(reader, reconnected) {
  const decoder = new TextDecoder();
  let buffer = "";
  let resynced = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      const message = parse(block);
      if (message.comment === "connected") {
        connected = true;
        if (reconnected && !resynced) { resynced = true; emit({ type: "resync" }); }
      }
      if (message.data) {
        try { emit(JSON.parse(message.data)); } catch { /* not ours */ }
      }
    }
  }
}

function parse(block) {
  const message = { data: "", comment: null, event: null };
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(":")) message.comment = line.slice(1).trim();
    else if (line.startsWith("data:")) message.data += line.slice(5).trimStart();
    else if (line.startsWith("event:")) message.event = line.slice(6).trim();
  }
  return message;
}
