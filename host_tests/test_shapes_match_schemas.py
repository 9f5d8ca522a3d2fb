"""The agent's compact request checks (each operation module's REQ, and the response
shapes it checks the CSMS's answers with) walked against the official OCPP 2.1 JSON
schemas and our diagnostics schemas, field by field: names, required, types, string
lengths, enums, numeric bounds, array sizes. A hand-made mismatch cannot hide."""
import json
import os
import subprocess

import pytest

from conftest import MICROPYTHON, ROOT

OCPP_SCHEMAS = os.path.join(ROOT, ".venv", "lib", "python3.11", "site-packages", "ocpp", "v21", "schemas")
DIAG_SCHEMAS = os.path.join(ROOT, "docs", "diagnostics", "schemas")

# check.py's type codes and flags.
STR, INT, NUM, BOOL, OBJ, ENUM, ANY, VAL, JSON = 1, 2, 3, 4, 5, 6, 7, 8, 9
ARR, REQ, ITEMS = 16, 32, 256

_DUMP = """
import json, sys
import agent, diag
from ocpp import responses
out = {}
for action, mod in agent._OPS + diag._OPS:
    __import__(mod)
    out[action + "Request"] = sys.modules[mod].REQ
for name in ("BOOT", "HEARTBEAT", "DATA_TRANSFER"):
    out[name] = getattr(responses, name)
print(json.dumps(out))
"""
RESPONSES = {"BOOT": "BootNotificationResponse", "HEARTBEAT": "HeartbeatResponse",
             "DATA_TRANSFER": "DataTransferResponse"}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    d = tmp_path_factory.mktemp("dump")
    script = d / "dump.py"
    script.write_text(_DUMP)
    env = dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (os.path.join(ROOT, "lib"), os.path.join(ROOT, ".deps")))
    r = subprocess.run([MICROPYTHON, str(script)], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _schema(name):
    for d in (DIAG_SCHEMAS, OCPP_SCHEMAS):
        p = os.path.join(d, name + ".json")
        if os.path.exists(p):
            with open(p, encoding="utf-8-sig") as f:
                return json.load(f)
    raise AssertionError("no schema %s" % name)


def _resolve(node, root):
    while "$ref" in node:
        node = root["definitions"][node["$ref"].split("/")[-1]]
    return node


def compare(fields, schema, root, path=""):
    """-> list of mismatches between a compact shape and a JSON schema object."""
    out = []
    props = {k: v for k, v in schema.get("properties", {}).items() if k != "customData"}
    required = set(schema.get("required", ()))
    names = [f[0] for f in fields]
    for k in props:
        if k not in names:
            out.append("%s%s: in the schema, not checked" % (path, k))
    for name, flags, arg in fields:
        p = path + name
        if name not in props:
            out.append("%s: checked, not in the schema" % p)
            continue
        if bool(flags & REQ) != (name in required):
            out.append("%s: required %s, schema says %s" % (p, bool(flags & REQ), name in required))
        node = _resolve(props[name], root)
        if flags & ARR:
            if node.get("type") != "array":
                out.append("%s: array, schema says %s" % (p, node.get("type")))
                continue
            if node.get("minItems", 0) != 1:
                out.append("%s: refuses an empty array, schema minItems %s" % (p, node.get("minItems")))
            if (flags >> 8) != node.get("maxItems", 0):
                out.append("%s: maxItems %d, schema %s" % (p, flags >> 8, node.get("maxItems")))
            node = _resolve(node["items"], root)
        out += _one(flags & 15, arg, node, root, p)
    return out


def _bounds(node):
    return [node.get("minimum"), node.get("maximum")]


def _one(t, arg, node, root, p):
    st = node.get("type")
    if t == STR:
        if st != "string" or "enum" in node:
            return ["%s: string, schema says %s" % (p, st if "enum" not in node else "enum")]
        if arg != node.get("maxLength"):
            return ["%s: maxLength %s, schema %s" % (p, arg, node.get("maxLength"))]
    elif t == ENUM:
        if sorted(arg) != sorted(node.get("enum", ())):
            return ["%s: enum %s, schema %s" % (p, arg, node.get("enum"))]
    elif t in (INT, NUM):
        want = "integer" if t == INT else "number"
        if st != want:
            return ["%s: %s, schema says %s" % (p, want, st)]
        got = arg or [None, None]
        if [None if x is None else float(x) for x in got] != \
                [None if x is None else float(x) for x in _bounds(node)]:
            return ["%s: bounds %s, schema %s" % (p, arg, _bounds(node))]
    elif t == BOOL:
        if st != "boolean":
            return ["%s: boolean, schema says %s" % (p, st)]
    elif t == OBJ:
        if st != "object":
            return ["%s: object, schema says %s" % (p, st)]
        return compare(arg, node, root, p + ".")
    elif t == ANY:
        if st != "object" or node.get("properties"):
            return ["%s: any object, schema says %s" % (p, st)]
    elif t == JSON:
        if "type" in node:
            return ["%s: any value, schema says %s" % (p, st)]
    elif t == VAL:
        if sorted(st if isinstance(st, list) else [st]) != ["boolean", "number", "string"]:
            return ["%s: number/boolean/string, schema says %s" % (p, st)]
    else:
        return ["%s: unknown check type %d" % (p, t)]
    return []


def test_every_request_shape_matches_its_schema(shapes):
    bad = []
    reqs = [k for k in shapes if k.endswith("Request")]
    assert len(reqs) >= 12, reqs
    for name in reqs:
        schema = _schema(name)
        bad += ["%s: %s" % (name, m) for m in compare(shapes[name], schema, schema)]
    assert bad == [], "\n".join(bad)


def test_every_response_shape_matches_its_schema(shapes):
    bad = []
    for key, name in RESPONSES.items():
        schema = _schema(name)
        bad += ["%s: %s" % (name, m) for m in compare(shapes[key], schema, schema)]
    assert bad == [], "\n".join(bad)


def test_the_comparison_catches_a_mismatch():
    # The checker itself: a shape that drifts from its schema is reported.
    schema = _schema("GetReportRequest")
    good = [["requestId", INT | REQ, None]]
    assert any("componentCriteria" in m for m in compare(good, schema, schema))
    wrong = [["requestId", STR | REQ, 10], ["componentCriteria", ARR | ENUM, ["Active"]],
             ["componentVariable", ARR | ANY, None]]
    msgs = compare(wrong, schema, schema)
    assert any("requestId: string" in m for m in msgs)
    assert any("maxItems 0, schema 4" in m for m in msgs)
    assert any("enum" in m for m in msgs)
