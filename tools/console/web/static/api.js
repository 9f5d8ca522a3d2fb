// The console's JSON API as the page uses it: the operator token from sessionStorage
// as a bearer token on every request, errors as ApiError with the API's details, and
// the live event stream (EventSource with a one-use ticket: it cannot send headers).

const KEY = "console.token";

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || "HTTP " + status);
    this.status = status;
    this.code = err.code;
    this.details = err; // parameter, testId, limit, role...
  }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const t = token.get();
  if (t) headers.Authorization = "Bearer " + t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(0, { error: { message: "console not reachable: " + e.message } });
  }
  let data = null;
  try { data = await r.json(); } catch (e) { /* not JSON: the status says enough */ }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export const path = (...parts) => "/api/" + parts.map(encodeURIComponent).join("/");

// Live events: onEvent(ev) for each; after an error (the console restarted, the
// stream was dropped) a new ticket and a stream that replays from the last id seen,
// so nothing is missed.  This is the only way the page learns of changes: no polling.
export class EventStream {
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.last = null;
    this.source = null;
    this.closed = false;
    this.retry = 1000;
  }

  async open() {
    if (this.closed) return;
    let ticket;
    try {
      ticket = (await api("POST", "/api/events/ticket")).ticket;
    } catch (e) {
      this.onState("down", e);
      if (e.status === 401 || e.status === 403) return; // the token itself is refused
      return this.later();
    }
    const q = new URLSearchParams({ ticket, follow: "1" });
    if (this.last !== null) q.set("after", String(this.last));
    const src = (this.source = new EventSource("/api/events?" + q));
    src.onopen = () => { this.retry = 1000; this.onState("up"); };
    src.onerror = () => {
      // The ticket was used: the browser's own reconnect would be refused.
      src.close();
      if (this.source === src) { this.onState("down"); this.later(); }
    };
    const handle = (msg) => {
      let ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      if (typeof ev.id === "number") this.last = ev.id;
      this.onEvent(ev);
    };
    for (const kind of KINDS) src.addEventListener(kind, handle);
  }

  later() {
    setTimeout(() => this.open(), this.retry);
    // Capped low: one tab retrying every 10 s costs the console nothing, and an
    // operator watching a restart sees the page live again soon after it.
    this.retry = Math.min(this.retry * 2, 10000);
  }

  close() {
    this.closed = true;
    if (this.source) this.source.close();
  }
}

// Named SSE events (the stream sends `event: <kind>`); others are not needed here.
const KINDS = ["stream.open", "station.connected", "station.disconnected", "station.booted",
  "station.added", "station.removed", "catalog", "run.requested", "run.status", "run.cancel",
  "run.done", "result"];
