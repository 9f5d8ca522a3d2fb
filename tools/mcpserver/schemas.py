"""Catalog descriptors (SPEC 4.1-4.4) as JSON Schemas an AI agent reads before it asks.

A test's parameters become an object schema: types, units, min/max, allowed values,
defaults, required; the test's intrusiveness, timeout and (when the station declares
them) expected duration and cost ride along as annotations.  Descriptors come from
stations through the console, so every field is checked for its type before use: a
malformed descriptor gives a looser schema, never an exception.
"""
_JSON_TYPES = {"integer": "integer", "decimal": "number", "boolean": "boolean",
               "string": "string", "enum": "string"}
# Planning fields a catalog may carry (DG13): passed through when present.
_PLANNING = ("expectedDuration", "expectedDurationS", "expectedCost", "cost")


def _num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _text(x, n=500):
    return x[:n] if isinstance(x, str) else ""


def parameters_schema(desc):
    """One descriptor -> JSON Schema of its parameters as {name: value}."""
    props, required = {}, []
    for p in desc.get("parameter") or ():
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            continue
        kind = p.get("dataType")
        prop = {"type": _JSON_TYPES.get(kind, "string")}
        for src, dst in (("minValue", "minimum"), ("maxValue", "maximum")):
            if _num(p.get(src)) and kind in ("integer", "decimal"):
                prop[dst] = p[src]
        if "defaultValue" in p and isinstance(p["defaultValue"], (int, float, str, bool)):
            prop["default"] = p["defaultValue"]
        allowed = p.get("allowedValues")
        if isinstance(allowed, list) and allowed and kind in ("enum", "string"):
            prop["enum"] = [v for v in allowed if isinstance(v, str)]
        text = _text(p.get("description"))
        if isinstance(p.get("unit"), str) and p["unit"]:
            prop["x-unit"] = p["unit"][:20]
            text = ("%s (unit: %s)" % (text, p["unit"][:20])).strip()
        if text:
            prop["description"] = text
        props[p["name"]] = prop
        if p.get("required") is True:
            required.append(p["name"])
    schema = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def annotations(desc):
    """What an agent weighs before running a test: intrusive, timeout, planning."""
    c = desc.get("constraints") if isinstance(desc.get("constraints"), dict) else {}
    out = {"intrusive": c.get("intrusive") is True}
    if isinstance(c.get("timeout"), int):
        out["timeoutS"] = c["timeout"]
    if isinstance(c.get("minInterval"), int):
        out["minIntervalS"] = c["minInterval"]
    for key in _PLANNING:
        if key in desc:
            out[key] = desc[key]
    plan = desc.get("planning")
    if isinstance(plan, dict):
        out["planning"] = plan
    return out


def test_entry(desc):
    """A catalog entry as the get_catalog tool shows it: the descriptor, plus its
    parameters as JSON Schema and the annotations above."""
    return dict(desc, parametersSchema=parameters_schema(desc), **{"x-" + k: v for k, v in
                                                                   annotations(desc).items()})


def test_request_schema(desc, may_intrusive=True):
    """One test of a start_diagnostics call: {testId: const, parameters: {...}}."""
    a = annotations(desc)
    text = _text(desc.get("description"), 300)
    if a["intrusive"]:
        text += " INTRUSIVE: interrupts or forbids charging while it runs%s." % (
            "" if may_intrusive else "; needs role run-intrusive, which this credential lacks")
    if "timeoutS" in a:
        text += " Times out after %d s." % a["timeoutS"]
    schema = {"type": "object", "title": desc["testId"], "description": text.strip(),
              "properties": {"testId": {"const": desc["testId"]},
                             "parameters": parameters_schema(desc)},
              "required": ["testId"], "additionalProperties": False}
    schema["x-intrusive"] = a["intrusive"]
    if not may_intrusive and a["intrusive"]:
        schema["x-requiresRole"] = "run-intrusive"
    for k in _PLANNING + ("planning",):
        if k in a:
            schema["x-" + k] = a[k]
    return schema


def tests_schema(descriptors, may_intrusive=True, max_items=50):
    """The `tests` argument of start_diagnostics: a list of test requests, each one of
    the descriptors given (deduplicated: stations of one model share a catalog)."""
    seen, variants = set(), []
    for d in descriptors:
        if not isinstance(d, dict) or not isinstance(d.get("testId"), str):
            continue
        s = test_request_schema(d, may_intrusive)
        key = repr(sorted(s.items(), key=lambda kv: kv[0]))
        if key not in seen:
            seen.add(key)
            variants.append(s)
    items = {"oneOf": variants} if variants else {
        "type": "object", "properties": {"testId": {"type": "string"},
                                         "parameters": {"type": "object"}},
        "required": ["testId"]}
    return {"type": "array", "minItems": 1, "maxItems": max_items, "items": items,
            "description": "tests to run in order, each with its parameters"}
