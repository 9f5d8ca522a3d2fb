// A form per catalog test, built from its parameter descriptors (SPEC 4.2): the type,
// unit, limits, allowed values, default and `required` become HTML input attributes,
// and checkForm() checks the values against those attributes before anything is sent.
// The API checks again against the stored catalog (422 naming the parameter), so a
// form whose attributes were edited in the browser still cannot send a bad value.

import { el } from "./dom.js";

const ROLES = ["read", "run", "run-intrusive", "admin"];
export const may = (role, needed) => ROLES.indexOf(role) >= ROLES.indexOf(needed);

// One line per test (a catalog has a dozen or more), its form unfolded on demand.
export function testBox(test, role, onStart, open) {
  const intrusive = !!(test.constraints && test.constraints.intrusive);
  return el("details", { class: "test-box" + (intrusive ? " intrusive" : ""),
    "data-test": test.testId, open: !!open },
    el("summary", {}, el("strong", {}, test.testId), el("span", { class: "tag" }, test.testType || ""),
      intrusive ? el("span", { class: "tag danger", title: "interrupts or forbids charging while it runs" },
        "intrusive") : null,
      el("span", { class: "hint" }, " " + (test.description || ""))),
    testForm(test, role, onStart));
}

function testForm(test, role, onStart) {
  const intrusive = !!(test.constraints && test.constraints.intrusive);
  const needed = intrusive ? "run-intrusive" : "run";
  const form = el("form", { class: "test" + (intrusive ? " intrusive" : ""),
    "data-test": test.testId, novalidate: "" });
  const c = test.constraints || {};
  form.append(el("p", { class: "hint" }, "timeout " + c.timeout + " s" +
    (c.minInterval ? " · at most every " + c.minInterval + " s" : "") +
    (c.needsNetwork ? " · needs network" : "") +
    ((test.expectedOutcome && test.expectedOutcome.measurement || []).length ?
      " · measures " + test.expectedOutcome.measurement.map((m) => m.name +
        (m.limit ? " (" + m.limit + ")" : "")).join(", ") : "")));
  for (const p of test.parameter || []) form.append(field(test.testId, p));
  const button = el("button", { type: "submit" }, "Start");
  const note = el("span", { class: "hint role-note" });
  if (!may(role, needed)) {
    button.disabled = true;
    note.textContent = "needs role " + needed + "; this token has " + role;
  }
  const error = el("p", { class: "error form-error", role: "alert", hidden: "" });
  form.append(el("div", { class: "actions" }, button, note), error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    const checked = checkForm(form);
    if (checked.error) return showError(form, checked.error, checked.name, "checked in the page");
    button.disabled = true;
    try {
      await onStart({ testId: test.testId, parameters: checked.values });
      form.querySelectorAll(".field-error").forEach((x) => (x.textContent = ""));
    } catch (err) {
      showError(form, err.message, err.details && err.details.parameter,
        "refused by the console (" + err.status + ")");
    } finally {
      button.disabled = !may(role, needed);
    }
  });
  return form;
}

function field(testId, p) {
  const id = "p-" + testId + "-" + p.name;
  const kind = p.dataType;
  let input;
  if (kind === "enum" || kind === "boolean" || (kind === "string" && p.allowedValues)) {
    const options = kind === "boolean" ? ["true", "false"] : p.allowedValues || [];
    input = el("select", {});
    input.append(el("option", { value: "" }, p.required ? "choose…" :
      "default" + (p.defaultValue !== undefined ? " (" + p.defaultValue + ")" : "")));
    for (const v of options) input.append(el("option", { value: v }, v));
  } else {
    input = el("input", kind === "integer" || kind === "decimal" ?
      { type: "number", step: kind === "integer" ? "1" : "any",
        inputmode: kind === "integer" ? "numeric" : "decimal" } : { type: "text", maxlength: "500" });
    if (p.minValue !== undefined) input.min = p.minValue;
    if (p.maxValue !== undefined) input.max = p.maxValue;
    if (p.defaultValue !== undefined) input.placeholder = String(p.defaultValue);
  }
  Object.assign(input, { id, name: p.name });
  input.dataset.kind = kind;
  if (p.required) input.required = true;
  const range = p.minValue !== undefined || p.maxValue !== undefined ?
    (p.minValue ?? "…") + " … " + (p.maxValue ?? "…") : "";
  return el("div", { class: "field" },
    el("label", { for: id }, p.name, p.unit ? el("span", { class: "unit" }, " [" + p.unit + "]") : null,
      p.required ? el("span", { class: "req", title: "required" }, " *") : null),
    input,
    el("span", { class: "hint" }, [range, p.defaultValue !== undefined ? "default " + p.defaultValue : "",
      p.description || ""].filter(Boolean).join(" · ")),
    el("span", { class: "field-error", "data-for": p.name }));
}

// -> {values} or {error, name}: the form's values as typed JSON, checked against the
// inputs' own attributes (type, min, max, required, allowed options).
export function checkForm(form) {
  const values = {};
  for (const input of form.querySelectorAll("input[name], select[name]")) {
    const name = input.name, kind = input.dataset.kind, text = input.value.trim();
    const bad = (why) => ({ error: name + ": " + why, name });
    if (text === "") {
      // type=number gives "" for text that is not a number.
      if (input.validity && input.validity.badInput) return bad("is not a number");
      if (input.required) return bad("is required");
      continue;
    }
    let value = text;
    if (kind === "integer" || kind === "decimal") {
      if (kind === "integer" ? !/^[+-]?\d{1,18}$/.test(text) :
        !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
        return bad(kind === "integer" ? "must be an integer" : "must be a number");
      }
      value = Number(text);
      if (input.min !== "" && value < Number(input.min)) return bad(text + " is below the minimum " + input.min);
      if (input.max !== "" && value > Number(input.max)) return bad(text + " is above the maximum " + input.max);
    } else if (kind === "boolean") {
      value = text === "true";
    } else if (input.tagName === "SELECT" &&
      ![...input.options].some((o) => o.value === text)) {
      return bad(text + " is not an allowed value");
    }
    values[name] = value;
  }
  return { values };
}

function showError(form, message, name, where) {
  const error = form.querySelector(".form-error");
  error.textContent = message + " — " + where;
  error.hidden = false;
  form.querySelectorAll(".field-error").forEach((x) => (x.textContent = ""));
  if (!name) return;
  const input = form.querySelector('[name="' + CSS.escape(name) + '"]');
  const slot = [...form.querySelectorAll(".field-error")].find((x) => x.dataset.for === name);
  if (slot) slot.textContent = message;
  if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
}
