// One result as the operator reads it: verdict, evidence, each measurement against
// its limit, the parameters it ran with, and whether its checksum verified.

import { el, when } from "./dom.js";

export const healthClass = (h) => ({ Healthy: "ok", Degraded: "warn", Unhealthy: "bad" })[h] || "off";
export const verdictClass = (v) => ({ Passed: "ok", Failed: "bad", Skipped: "off" })[v] || "warn";

export function resultItem(r) {
  const p = r.result || {};
  const verified = r.checksumVerified === true;
  const li = el("li", { class: "result", "data-result": r.resultId, "data-station": r.station,
    "data-verdict": r.verdict },
    el("div", { class: "run-head" },
      el("span", { class: "badge verdict " + verdictClass(r.verdict) }, r.verdict),
      el("strong", {}, r.testId), " · ", el("span", {}, r.station), " · ", when(p.endTime || r.receivedAt),
      el("span", { class: "hint" }, " " + (r.trigger || "") + (r.run ? " · run #" + r.run : "") +
        " · " + (r.requestor || ""))),
    r.healthStatus ? el("p", {}, "Health: ", el("span", { class: "badge " + healthClass(r.healthStatus) },
      r.healthStatus)) : null,
    p.evidence ? el("p", { class: "evidence" }, p.evidence) : null,
    p.statusInfo ? el("p", { class: "hint" }, (p.statusInfo.reasonCode || "") + " " +
      (p.statusInfo.additionalInfo || "")) : null);
  if ((p.measurement || []).length) {
    li.append(el("table", { class: "measurements" },
      el("thead", {}, el("tr", {}, el("th", {}, "Measurement"), el("th", {}, "Value"),
        el("th", {}, "Limit"), el("th", {}, "Within"))),
      el("tbody", {}, ...p.measurement.map((m) => el("tr", {},
        el("td", {}, m.name), el("td", {}, m.value + (m.unit ? " " + m.unit : "")),
        el("td", {}, m.limit || "—"),
        el("td", { class: m.withinLimit === false ? "bad" : "" },
          m.withinLimit === undefined ? "—" : m.withinLimit ? "yes" : "no"))))));
  }
  if ((p.parameter || []).length) {
    li.append(el("p", { class: "hint" }, "Parameters: " +
      p.parameter.map((x) => x.name + "=" + JSON.stringify(x.value)).join(", ")));
  }
  li.append(el("p", { class: "checksum " + (verified ? "ok" : "bad") },
    verified ? "✓ checksum verified " : "✗ checksum NOT verified ",
    el("code", { title: p.checksum || "" }, p.checksum ? p.checksum.slice(0, 16) + "…" : "none")));
  return li;
}
