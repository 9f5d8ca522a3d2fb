// The operator's page: sign in with a token, stations, a station's catalog as forms,
// runs with live progress (server-sent events), results with evidence, checksum and
// charts.  Every change on screen after the first load is driven by an event.

import { api, ApiError, EventStream, path, token } from "./api.js";
import { $, el, when } from "./dom.js";
import { may, testBox } from "./form.js";
import { renderCharts } from "./charts.js";
import { healthClass, resultItem, verdictClass } from "./results.js";

const state = { me: null, station: null, stream: null, runs: new Map() };

function showError(e) {
  const box = $("#error");
  if (!e) { box.hidden = true; return; }
  const what = e.status === 401 ? "Token refused (401): " : e.status === 403 ? "Not allowed (403): " :
    e.status ? "Error " + e.status + ": " : "";
  box.textContent = what + e.message;
  box.hidden = false;
}

// -- sign in / out --

async function start() {
  let me;
  try {
    me = await api("GET", "/api/whoami");
  } catch (e) {
    if (e.status === 401) token.clear();
    showLogin();
    showError(e);
    return;
  }
  state.me = me;
  showError(null);
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#logout").hidden = false;
  const who = $("#who");
  who.textContent = me.name + " · " + me.role;
  who.hidden = false;
  state.stream = new EventStream(onEvent, (s, e) => {
    $("#live").hidden = false;
    $("#live").className = "live " + s;
    $("#live").title = s === "up" ? "live: events arrive as they happen" : "event stream down, reconnecting";
    if (e && (e.status === 401 || e.status === 403)) showError(e);
  });
  state.stream.open(); // the first event (stream.open) loads everything
}

function showLogin() {
  $("#app").hidden = true;
  $("#logout").hidden = true;
  $("#who").hidden = true;
  $("#login").hidden = false;
  $("#token").focus();
}

$("#login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const t = $("#token").value.trim();
  if (!t) return;
  if (!/^[A-Za-z0-9_\-.~+/]+=*$/.test(t)) {
    // Not even the shape of a bearer token (RFC 6750): say so rather than send it.
    showError({ message: "that is not an operator token (letters, digits and - _ . ~ + / only)" });
    return;
  }
  token.set(t);
  $("#token").value = "";
  start();
});

$("#logout").addEventListener("click", () => {
  token.clear();
  if (state.stream) state.stream.close();
  location.reload();
});

// -- live events --

const pending = new Set();
function soon(what, fn) {
  // Several events in a burst (a run's status and result) cost one reload.
  if (pending.has(what)) return;
  pending.add(what);
  setTimeout(() => { pending.delete(what); fn(); }, 150);
}

function hashStation() {
  try { return decodeURIComponent(location.hash.slice(1)); } catch (e) { return ""; }
}

async function onOpen() {
  // Subscribed before this load: nothing that happens from now on is missed.
  loadRuns();
  await loadStations(); // first: the results filter lists the stations
  const linked = hashStation();
  if (!state.station && linked) return openStation(linked, true); // a bookmarked station
  loadResults();
  if (state.station) openStation(state.station, false);
}

function onEvent(ev) {
  const k = ev.kind;
  if (k === "stream.open") return onOpen();
  if (k.startsWith("station.") || k === "catalog") {
    soon("stations", loadStations);
    if (k === "catalog" && ev.station === state.station) soon("catalog", () => openStation(state.station, false));
  }
  if (ev.run != null && (k.startsWith("run.") || k === "result")) loadRun(ev.run, ev.id);
  if (k === "result") soon("results", loadResults);
}

// -- stations --

async function loadStations() {
  let list;
  try { list = await api("GET", "/api/stations"); } catch (e) { return showError(e); }
  const body = $("#stations tbody");
  body.replaceChildren(...list.map((s) => {
    const row = el("tr", { "data-station": s.id, class: s.id === state.station ? "selected" : "" },
      el("td", { "data-label": "Station" }, el("a", { href: "#" + encodeURIComponent(s.id) }, s.id)),
      el("td", { "data-label": "Connection" },
        el("span", { class: "badge " + (s.connected ? "ok" : "off") }, s.connected ? "online" : "offline")),
      el("td", { "data-label": "Health" }, el("span", { class: "badge " + healthClass(s.health) },
        s.health || "unknown")),
      el("td", { "data-label": "Last contact" }, when(s.lastContact)),
      el("td", { "data-label": "Catalog" }, s.catalogVersion || (s.catalogFetchedAt ? "stored" : "—")));
    row.addEventListener("click", (e) => {
      e.preventDefault();
      history.replaceState(null, "", "#" + encodeURIComponent(s.id));
      openStation(s.id, true);
    });
    return row;
  }));
  $("#no-stations").hidden = list.length > 0;
  const sel = $("#filter [name=station]");
  const chosen = sel.value;
  sel.replaceChildren(el("option", { value: "" }, "all"),
    ...list.map((s) => el("option", { value: s.id }, s.id)));
  sel.value = chosen;
}

async function openStation(sid, filter) {
  state.station = sid;
  document.querySelectorAll("#stations tr").forEach((r) =>
    r.classList.toggle("selected", r.dataset.station === sid));
  $("#station").hidden = false;
  $("#station-id").textContent = sid;
  const box = $("#catalog");
  const note = $("#catalog-note");
  if (filter) {
    $("#filter [name=station]").value = sid;
    loadResults();
    $("#station").scrollIntoView({ block: "start" });
  }
  let cat;
  try {
    const s = await api("GET", path("stations", sid));
    $("#station-meta").textContent = [s.connected ? "online" : "offline",
      s.boot && s.boot.model, s.boot && s.boot.vendorName,
      s.boot && s.boot.firmwareVersion && "firmware " + s.boot.firmwareVersion].filter(Boolean).join(" · ");
    cat = await api("GET", path("stations", sid, "catalog"));
  } catch (e) {
    box.replaceChildren();
    note.textContent = "Catalog not available: " + e.message;
    return;
  }
  if (state.station !== sid) return;
  note.textContent = cat.tests.length + " tests" + (cat.catalogVersion ? " · catalog " + cat.catalogVersion : "") +
    " · read " + new Date(cat.fetchedAt).toLocaleString() +
    (may(state.me.role, "run") ? "" : " · this token may only read (role " + state.me.role + ")");
  const open = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.test));
  box.replaceChildren(...cat.tests.map((t) =>
    testBox(t, state.me.role, (req) => startRun(sid, req), open.has(t.testId))));
}

async function startRun(sid, req) {
  const run = await api("POST", path("stations", sid, "runs"), { tests: [req] });
  showRun(run);
  return run;
}

addEventListener("hashchange", () => {
  const sid = hashStation();
  if (sid && state.me) openStation(sid, true);
});

// -- runs --

async function loadRuns() {
  let list;
  try { list = await api("GET", "/api/runs"); } catch (e) { return showError(e); }
  $("#runs").replaceChildren();
  state.runs.clear();
  for (const r of list.reverse()) showRun(r);
}

async function loadRun(id, eventId) {
  let run;
  try { run = await api("GET", "/api/runs/" + id); } catch (e) { return; }
  showRun(run, eventId);
}

function showRun(r, eventId) {
  const old = state.runs.get(r.id);
  if (old && eventId !== undefined && Number(old.dataset.event) > eventId) return; // stale
  const active = ["requested", "accepted", "running", "cancelling"].includes(r.status);
  const li = el("li", { class: "run " + (r.verdict ? verdictClass(r.verdict) : ""),
    "data-run": r.id, "data-status": r.status, "data-verdict": r.verdict || "",
    "data-event": eventId !== undefined ? eventId : (old && old.dataset.event) || "" },
    el("div", { class: "run-head" },
      el("strong", {}, "#" + r.id), " ", el("span", {}, r.station), " · ",
      el("span", {}, r.tests.map((t) => t.testId).join(", ")),
      el("span", { class: "badge status" }, r.status),
      r.verdict ? el("span", { class: "badge verdict " + verdictClass(r.verdict) }, r.verdict) : null),
    el("progress", { max: Math.max(r.total, 1), value: r.completed }),
    el("span", { class: "hint" }, r.completed + "/" + r.total + " · by " + r.requestor + " · ",
      when(r.updatedAt)),
    r.statusInfo ? el("p", { class: "hint" }, (r.statusInfo.reasonCode || "") + " " +
      (r.statusInfo.additionalInfo || "")) : null);
  if (active && may(state.me.role, "run")) {
    const b = el("button", { type: "button", class: "cancel" }, "Cancel");
    b.addEventListener("click", async () => {
      b.disabled = true;
      try { showRun(await api("POST", "/api/runs/" + r.id + "/cancel", { station: r.station })); }
      catch (e) { showError(e); b.disabled = false; }
    });
    li.append(b);
  }
  if (old) old.replaceWith(li); else $("#runs").prepend(li);
  state.runs.set(r.id, li);
  $("#no-runs").hidden = state.runs.size > 0;
}

// -- results --

$("#filter").addEventListener("submit", (e) => { e.preventDefault(); loadResults(); });

async function loadResults() {
  const f = new FormData($("#filter"));
  const q = new URLSearchParams({ limit: "200" });
  for (const k of ["station", "test", "verdict"]) if (f.get(k)) q.set(k, f.get(k).trim());
  if (f.get("since")) {
    const t = new Date(f.get("since"));
    if (!isNaN(t)) q.set("since", t.toISOString());
  }
  let list;
  try { list = await api("GET", "/api/results?" + q); } catch (e) { return showError(e); }
  $("#results").replaceChildren(...list.map(resultItem));
  $("#no-results").hidden = list.length > 0;
  renderCharts($("#charts"), list);
}

// -- go --

addEventListener("error", (e) => showError(new ApiError(0, { error: { message: "page error: " + e.message } })));
if (token.get()) start(); else showLogin();
