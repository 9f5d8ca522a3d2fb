"""SPEC.md as a working group reads it: every SHALL a numbered requirement in a use case's
table, and the conformance table (requirement -> host tests) exactly what
tools/spec_conformance.py generates from the `req` markers, so that it cannot drift."""
import re

import pytest

import spec_conformance as sc

with open(sc.SPEC, encoding="utf-8") as f:
    SPEC_TEXT = f.read()


@pytest.fixture(scope="module")
def marks():
    # pytest's own collection of the whole suite, in a subprocess (tools/spec_conformance.py).
    return sc.markers()


def test_requirement_tables_are_well_formed():
    reqs = sc.requirements(SPEC_TEXT)  # raises on a bad row, a duplicate, a misplaced id
    ucs = {r[:4] for r in reqs}
    assert {"DG%02d" % i for i in range(1, 10)} <= ucs
    for rid, r in reqs.items():
        assert "SHALL" in r.text, "%s states no requirement: %s" % (rid, r.text)
        assert r.pre.strip(), rid
    # Every use case has the parts of OCPP's use-case form.
    for uc in sorted(ucs):
        i = SPEC_TEXT.index("### %s - " % uc)
        j = SPEC_TEXT.find("\n### ", i + 1)
        body = SPEC_TEXT[i:j]
        for part in ("| Name |", "| ID | %s |" % uc, "| Objective |", "| Description |", "| Actors |",
                     "| Prerequisites |", "| Postconditions |", "**Scenario**", "\n1. "):
            if uc <= "DG09":  # later use cases are written by others in the same form
                assert part in body, "%s lacks %r" % (uc, part)


def test_every_shall_is_a_numbered_requirement():
    body = SPEC_TEXT[SPEC_TEXT.index("## 1. Summary"):]  # the preamble defines the key words
    fenced = False
    stray = []
    for n, line in enumerate(body.splitlines()):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or re.match(r"^\| DG\d\d\.FR\.\d\d \|", line):
            continue
        if "SHALL" in re.sub(r"`[^`]*`", "", line):
            stray.append(line.strip())
    assert stray == [], "SHALL outside a requirement table: %s" % stray


def test_conformance_table_is_what_the_generator_writes(marks):
    assert sc.generate(SPEC_TEXT, marks) == SPEC_TEXT, "SPEC.md's conformance table is stale: run `make spec`"


def test_every_marker_names_a_defined_requirement(marks):
    reqs = sc.requirements(SPEC_TEXT)
    unknown = sorted({(node, rid) for node, ids in marks.items() for rid in ids if rid not in reqs})
    assert unknown == []


def test_every_requirement_is_tested_or_says_why(marks):
    assert sc.problems(sc.requirements(SPEC_TEXT), marks) == []
    # The existing behaviour (DG01-DG09) is checked by real tests, apart from a few
    # requirements on CSMS implementations and on what the agent does not control.
    reqs = {k: v for k, v in sc.requirements(SPEC_TEXT).items() if k < "DG10"}
    untested = [k for k, v in reqs.items() if v.untested]
    assert len(untested) <= len(reqs) // 6, untested


def test_the_checker_finds_what_it_should():
    # The checks above can fail: a synthetic spec with each kind of mistake.
    spec = ("## 3. Use cases\n\n### DG01 - Thing\n\n| Id | Precondition | Requirement definition |\n"
            "| --- | --- | --- |\n| DG01.FR.01 | - | The CS SHALL do A. |\n"
            "| DG01.FR.02 | - | The CS SHALL do B. (untested: no peer for it) |\n"
            "| DG01.FR.03 | - | The CS SHALL do C. |\n\n## 15. Conformance\n\n"
            "%s\nold\n%s\n" % (sc.BEGIN, sc.END))
    reqs = sc.requirements(spec)
    assert list(reqs) == ["DG01.FR.01", "DG01.FR.02", "DG01.FR.03"]
    marks = {"host_tests/test_a.py::test_a": ["DG01.FR.01", "DG01.FR.02"],
             "host_tests/test_b.py::test_b": ["DG01.FR.09", "dg1"]}
    found = "\n".join(sc.problems(reqs, marks))
    assert "names DG01.FR.09, which SPEC.md does not define" in found
    assert "'dg1' is not a requirement id" in found
    assert "DG01.FR.03 has no test" in found
    assert "DG01.FR.02 is flagged untested but host_tests/test_a.py::test_a check it" in found
    out = sc.generate(spec, marks)
    assert "| DG01.FR.01 | `host_tests/test_a.py::test_a` |" in out and "\nold\n" not in out
    assert sc.generate(out, marks) == out  # idempotent
    for bad in ("| DG02.FR.01 | - | The CS SHALL. |",  # not under its heading
                "| DG01.FR.01 | - | again SHALL |",  # defined twice
                "| DG01.FR.04 | - | x | SHALL |",  # four columns
                "### 4.1 Other\n\n| DG01.FR.05 | - | The CS SHALL. |"):  # under another heading
        with pytest.raises(ValueError):
            sc.requirements(spec.replace("\n\n## 15.", "\n" + bad + "\n\n## 15."))


# --- example messages of a real run (tools/spec_examples.py) -------------------------

import spec_examples  # noqa: E402
from diag_helpers import offered  # noqa: E402

EXAMPLES = spec_examples.examples(SPEC_TEXT)
DIAG_ACTIONS = {"GetDiagnosticsCatalog", "NotifyDiagnosticsCatalog", "StartDiagnostics", "CancelDiagnostics",
                "NotifyDiagnosticsStatus", "NotifyDiagnosticsResult", "GetDiagnosticsResults"}


def test_every_use_case_has_an_example_from_a_real_run():
    for uc in ["DG%02d" % i for i in range(1, 10)]:
        frames, _ = EXAMPLES.get(uc, ([], []))
        assert frames, "%s has no example messages: run `make spec`" % uc
        # Every CALL with its answer (in DG04 one goes unanswered on purpose), and
        # nothing answered that was not asked.
        calls = [f[1] for f in frames if f[0] == 2]
        answers = [f[1] for f in frames if f[0] in (3, 4)]
        assert len(set(calls)) == len(calls) and len(set(answers)) == len(answers), uc
        assert set(answers) <= set(calls), uc
        assert len(calls) - len(answers) == (1 if uc == "DG04" else 0), uc


def _errors(validator, payload):
    return ["%s at /%s" % (e.message, "/".join(map(str, e.absolute_path))) for e in validator.iter_errors(payload)]


@pytest.mark.parametrize("uc", sorted(EXAMPLES))
def test_examples_validate_against_the_schemas(uc):
    from ocpp.messages import get_validator
    frames, _ = EXAMPLES[uc]
    checked = 0
    for f, action, _ in spec_examples.actions(frames):
        if f[0] == 4:
            continue
        payload = f[3] if f[0] == 2 else f[2]
        bad = _errors(get_validator(f[0], action, "2.1"), payload)
        assert bad == [], "%s %s: %s" % (uc, action, bad)
        checked += 1
        if action == "DataTransfer" and f[0] == 2 and payload["messageId"] in DIAG_ACTIONS:
            # The binding carries the native payload: it checks against the native schema.
            bad = _errors(get_validator(2, payload["messageId"], "2.1"), payload["data"])
            assert bad == [], "%s DataTransfer %s: %s" % (uc, payload["messageId"], bad)
            checked += 1
    assert checked >= 2


def _test_ids(x, out):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "testId":
                out.update(v if isinstance(v, list) else [v])
            elif k == "customTrigger" and v not in ("HealthCheck", "SelfTest"):
                out.add(v)
            elif k == "component" and isinstance(v, dict) and v.get("name") == "DiagnosticTest":
                out.add(v.get("instance"))
            else:
                _test_ids(v, out)
    elif isinstance(x, list):
        for v in x:
            _test_ids(v, out)
    return out


def test_examples_use_test_ids_of_the_reference_catalog():
    used = set()
    for frames, _ in EXAMPLES.values():
        _test_ids(frames, used)
    assert used and used <= set(offered()), used - set(offered())


def test_example_results_carry_valid_checksums():
    from conftest import result_checksum
    n = 0
    for frames, _ in EXAMPLES.values():
        for f in frames:
            if f[0] == 2 and isinstance(f[3], dict):
                r = f[3].get("result") or (f[3].get("data") or {}).get("result") if f[2] in (
                    "NotifyDiagnosticsResult", "DataTransfer") else None
                if r:
                    assert r["checksum"] == result_checksum(r), r["resultId"]
                    n += 1
    assert n >= 9


def test_example_comparison_ignores_only_volatile_values():
    # `make spec` keeps an example when only ids, times, numbers and checksums changed.
    frames, notes = EXAMPLES["DG02"]
    same = spec_examples.signature(frames, notes)
    import copy
    moved = copy.deepcopy(frames)
    for f in moved:
        f[1] = f[1] + "-other"
        body = f[-1].get("result") if isinstance(f[-1], dict) else None
        if body:
            body["endTime"] = "2031-01-01T00:00:00Z"
            body["checksum"] = "f" * 64
    assert spec_examples.signature(moved, notes) == same
    changed = copy.deepcopy(frames)
    for f in changed:
        body = f[-1].get("result") if isinstance(f[-1], dict) else None
        if body:
            body["verdict"] = "Failed"
    assert spec_examples.signature(changed, notes) != same
