"""A station's catalog of tests: assembled from its NotifyDiagnosticsCatalog parts, and
used to check a request's parameters BEFORE it is sent, with the station's own rules
(SPEC.md sections 4.2 and 7) and its reason codes, so that an operator, a script or an
AI agent learns at once which parameter is wrong and what its limits are."""

import math

from .errors import ParameterError

# A catalog in more parts than this is a station's bug (one part holds 1+ tests).
MAX_PARTS = 1000


class Catalog:
    """testId -> DiagnosticTestDescriptorType dict, as the station sent it.

    `complete` is true once every part up to the one without `tbc` has arrived (parts
    may arrive in any order: they are placed by seqNo).  `source` is "catalog" for a
    NotifyDiagnosticsCatalog, "deviceModel" for one read from a base report (binding.py),
    which lacks `required` and the constraints.
    """

    def __init__(self, request_id=None, source="catalog"):
        self.request_id, self.source = request_id, source
        self.tests = {}
        self.generated_at = None
        self._parts = {}     # seqNo -> part payload
        self._last = None    # seqNo of the part without tbc
        self.complete = False

    @classmethod
    def from_parts(cls, parts, request_id=None):
        cat = cls(request_id)
        for p in parts:
            cat.add_part(p)
        return cat

    @classmethod
    def from_tests(cls, tests, source="catalog"):
        cat = cls(source=source)
        for t in tests:
            cat.tests[t["testId"]] = t
        cat.complete = True
        return cat

    def add_part(self, part):
        """Add one NotifyDiagnosticsCatalog payload; -> True once complete.  Raises
        ValueError beyond MAX_PARTS parts (a station that never ends its catalog)."""
        seq = part.get("seqNo", 0)
        if seq not in self._parts and len(self._parts) >= MAX_PARTS:
            raise ValueError("catalog %s: more than %d parts" % (self.request_id, MAX_PARTS))
        self._parts[seq] = part
        if not part.get("tbc"):
            self._last = seq
        self.generated_at = part.get("generatedAt", self.generated_at)
        for t in part.get("test", ()):
            self.tests[t["testId"]] = t
        # Counted, not walked: a hostile seqNo of 2**31 must not cost 2**31 steps.
        self.complete = self._last is not None and sum(
            1 for i in self._parts if i <= self._last) == self._last + 1
        return self.complete

    # -- reading --

    def __contains__(self, test_id):
        return test_id in self.tests

    def __iter__(self):
        return iter(self.tests.values())

    def __len__(self):
        return len(self.tests)

    def test(self, test_id):
        return self.tests[test_id]

    def parameters(self, test_id):
        """name -> DiagnosticParameterType of test_id."""
        return {p["name"]: p for p in self.tests[test_id].get("parameter", ())}

    def is_intrusive(self, test_id):
        return bool(self.tests[test_id].get("constraints", {}).get("intrusive"))

    def json_schema(self, test_id):
        """A JSON Schema (draft 4) of test_id's parameters as an object {name: value}:
        types, limits, allowed values, defaults, required, units in the descriptions;
        what a form or an AI agent needs to build a request the station accepts."""
        props, required = {}, []
        for name, p in self.parameters(test_id).items():
            t = p.get("dataType")
            prop = {"type": _JSON_TYPES.get(t, "string")}
            for src, dst in (("minValue", "minimum"), ("maxValue", "maximum"),
                             ("defaultValue", "default")):
                if src in p:
                    prop[dst] = p[src]
            if t == "enum":
                prop["enum"] = list(p.get("allowedValues", ()))
            text = p.get("description", "")
            if p.get("unit"):
                text = ("%s (unit: %s)" % (text, p["unit"])).strip()
                prop["x-unit"] = p["unit"]
            if text:
                prop["description"] = text
            props[name] = prop
            if p.get("required"):
                required.append(name)
        t = self.tests[test_id]
        schema = {"type": "object", "properties": props, "additionalProperties": False,
                  "title": test_id, "description": t.get("description", "")}
        if required:
            schema["required"] = required
        return schema

    # -- checking --

    def check(self, test_id, parameters=None):
        """Check one test's parameters as the station will; -> {name: value} with
        defaults filled in.  parameters: {name: value} or [{"name", "value"}].
        Raises ParameterError with the station's reasonCode."""
        if test_id not in self.tests:
            raise ParameterError("UnknownTest", test_id, None, "not offered by this station")
        spec = self.parameters(test_id)
        given = _as_pairs(parameters)
        values = {}
        for name, value in given:
            p = spec.get(name)
            if p is None:
                raise ParameterError("UnknownParameter", test_id, name,
                                     "not a parameter of this test")
            if name in values:
                raise ParameterError("InvalidParameter", test_id, name, "given twice")
            check_value(test_id, p, value)
            values[name] = value
        for name, p in spec.items():
            if name not in values:
                if "defaultValue" in p:
                    values[name] = p["defaultValue"]
                elif p.get("required"):
                    raise ParameterError("MissingParameter", test_id, name, "required")
        return values

    def check_request(self, tests):
        """Check every test of a StartDiagnostics `test` list (DiagnosticTestRequestType
        dicts); raises ParameterError for the first problem, in the station's order."""
        for t in tests:
            self.check(t["testId"], t.get("parameter"))


_JSON_TYPES = {"integer": "integer", "decimal": "number", "boolean": "boolean",
               "string": "string", "enum": "string"}


def _as_pairs(parameters):
    if not parameters:
        return []
    if isinstance(parameters, dict):
        return list(parameters.items())
    return [(p["name"], p["value"]) for p in parameters]


def _kind_ok(data_type, v):
    if isinstance(v, bool):  # a bool is an int to Python, never a number to JSON
        return data_type == "boolean"
    if data_type == "integer":
        return isinstance(v, int)
    if data_type == "decimal":
        return isinstance(v, (int, float)) and math.isfinite(v)
    if data_type == "boolean":
        return False
    return isinstance(v, str)  # string, enum


def check_value(test_id, p, v):
    """Raise ParameterError unless v is a valid value of parameter descriptor p."""
    t, name = p.get("dataType"), p["name"]
    if not _kind_ok(t, v):
        raise ParameterError("InvalidParameter", test_id, name, "must be %s %s (got %r)" % (
            "an" if str(t)[:1] in "aeiou" else "a", t, v))
    if t == "enum" and v not in p.get("allowedValues", ()):
        raise ParameterError("InvalidParameter", test_id, name, "%s is not one of %s" % (
            v, ",".join(p.get("allowedValues", ()))))
    lo, hi = p.get("minValue"), p.get("maxValue")
    if t in ("integer", "decimal") and (lo is not None and v < lo or hi is not None and v > hi):
        unit = " " + p["unit"] if p.get("unit") else ""
        raise ParameterError("OutOfRange", test_id, name, "%s outside %s..%s%s" % (
            v, "" if lo is None else lo, "" if hi is None else hi, unit))
