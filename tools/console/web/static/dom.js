// Building elements with text only: everything the page shows from the API (station
// ids, evidence, descriptions) is input from stations and goes in as textContent,
// never as HTML.

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === "") continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const $ = (sel, root) => (root || document).querySelector(sel);

// RFC 3339 -> the reader's local time; the exact value in the title.
export function when(iso) {
  if (!iso) return el("span", { class: "hint" }, "never");
  const d = new Date(iso);
  return el("time", { datetime: iso, title: iso }, isNaN(d) ? iso : d.toLocaleString());
}
