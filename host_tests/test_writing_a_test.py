"""Writing a test (README, "Writing a test"): the README's example module, copied out of
the README into a copy of the source tree, passes `make check-tests`, is offered and
runs with the verdicts the README promises; adding it (and any module) to
lib/diag/tests/ leaves the catalog and self-test assertions of the suite green, since
they derive the set of tests from the directory; the checker names a bad module and
field."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import MICROPYTHON, ROOT, AgentProc, base_config, wait_booted
from diag_helpers import meas, results, start, wait_status
from test_diag_catalog import check_catalog
from test_diag_triggers import check_selftest_trigger

NEW_SELFTEST = '''TYPE = "SelfTest"
VERSION = "0.1"
DESCRIPTION = "A module added with nothing else edited (Prüfung ✓)"
PARAMS = ()
CONSTRAINTS = (None, False, (), 5, 0, False)
MEASURES = ()
VERDICTS = ("Passed",)
OUTCOME = "Passed: always"


async def run(ctx):
    ctx.evidence("ünïcode evidence ✓")
    return "Passed"
'''


def readme_example():
    """(test id, source) of the first python block in README's "Writing a test"."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("### Writing a test", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    tid = re.match(r"# lib/diag/tests/(\w+)\.py\n", code).group(1)
    return tid, code


@pytest.fixture
def tree(tmp_path):
    """A copy of the source tree (main.py, lib/) with the README example and a new
    SelfTest added to lib/diag/tests/; the agent runs from the sources there."""
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "lib"), src / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("main.py", "boot.py"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    os.symlink(os.path.join(ROOT, ".deps"), src / ".deps")
    tid, code = readme_example()
    assert not os.path.exists(os.path.join(ROOT, "lib", "diag", "tests", tid + ".py")), \
        "the README example must be a new module"
    (src / "lib" / "diag" / "tests" / (tid + ".py")).write_text(code, encoding="utf-8")
    (src / "lib" / "diag" / "tests" / "zz_added.py").write_text(NEW_SELFTEST, encoding="utf-8")
    return str(src), tid


def check_tests(lib):
    env = dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (lib, os.path.join(ROOT, ".deps")))
    return subprocess.run([MICROPYTHON, os.path.join(ROOT, "tools", "check_tests.py"), lib],
                          capture_output=True, text=True, env=env, timeout=60)


def test_make_check_tests_passes_on_this_tree():
    r = subprocess.run(["make", "-s", "check-tests"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    shipped = sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, "lib", "diag", "tests"))
                     if n.endswith(".py") and not n.startswith("_"))
    assert re.findall(r"^ok (\w+)$", r.stdout, re.M) == shipped
    assert r.stdout.strip().endswith("check-tests: 0 bad")


def test_check_tests_names_the_bad_module_and_field(tree):
    src, tid = tree
    lib = os.path.join(src, "lib")
    r = check_tests(lib)
    assert r.returncode == 0 and "ok %s\n" % tid in r.stdout and "ok zz_added\n" in r.stdout, r.stdout + r.stderr
    bad = os.path.join(lib, "diag", "tests")
    with open(os.path.join(bad, "zz_typo.py"), "w") as f:
        f.write(NEW_SELFTEST.replace("PARAMS = ()", 'PARAMS = (("n", "int", None, None, None, None, 1, False, "x"),)'))
    with open(os.path.join(bad, "zz_range.py"), "w") as f:
        f.write(NEW_SELFTEST.replace("PARAMS = ()", 'PARAMS = (("n", "integer", None, 9, 1, None, None, False, "x"),)'))
    with open(os.path.join(bad, "zz_verdict.py"), "w") as f:
        f.write(NEW_SELFTEST.replace('VERDICTS = ("Passed",)', 'VERDICTS = ("Passed", "Fine")'))
    with open(os.path.join(bad, "zz_constraint.py"), "w") as f:
        f.write(NEW_SELFTEST.replace("(None, False, (), 5, 0, False)", '(("Charging",), False, (), 5, 0, False)'))
    r = check_tests(lib)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "BAD zz_typo: parameter n: dataType 'int' is not one of integer," in r.stdout
    assert "BAD zz_range: parameter n: min 9 above max 1" in r.stdout
    assert "BAD zz_verdict: VERDICTS: 'Fine' is not one of" in r.stdout
    assert "BAD zz_constraint: CONSTRAINTS allowedStates: 'Charging' is not one of" in r.stdout
    assert "ok %s\n" % tid in r.stdout and r.stdout.strip().endswith("check-tests: 4 bad")


def test_readme_example_and_an_added_module_with_the_suites_assertions(csms, tree, tmp_path):
    src, tid = tree
    lib = os.path.join(src, "lib")
    # From sources, so the heap also holds the compiler's work: more than a device needs.
    a = AgentProc(src, base_config(csms.url, str(tmp_path)), str(tmp_path), heap="1024k").start()
    try:
        wait_booted(csms, a)
        # The catalog and CustomTrigger SelfTest assertions of the suite, on this tree.
        tests = check_catalog(csms, a.station, lib)
        assert tests[tid]["testType"] == "PerformanceTest" and "zz_added" in tests
        assert {p["name"]: p["dataType"] for p in tests[tid]["parameter"]} == \
            {"samples": "integer", "limitMs": "integer", "alone": "boolean"}
        got = check_selftest_trigger(csms, a.station, lib)
        assert got["zz_added"]["verdict"] == "Passed" and got["zz_added"]["evidence"] == "ünïcode evidence ✓"

        # The example's own promises: alone and within a generous limit, Passed.
        assert start(csms, a.station, 1, (tid, {"limitMs": 1000}))["status"] == "Accepted"
        (r,) = results(csms, a.station, 1, pred=lambda r: r.get("requestId") == 1)
        m = meas(r)
        assert r["verdict"] == "Passed" and "statusInfo" not in r, r
        assert m["worstLate"]["limit"] == "<= 1000" and m["worstLate"]["withinLimit"] is True
        assert m["worstLate"]["unit"] == "ms" and 0 <= m["meanLate"]["value"] <= m["worstLate"]["value"]
        assert r["evidence"].startswith("wake-ups late by ") and len(r["evidence"].split(",")) == 5
        assert {p["name"]: p["value"] for p in r["parameter"]} == {"samples": 5, "limitMs": 1000, "alone": True}
        # With another test running meanwhile: Inconclusive, saying why.
        assert start(csms, a.station, 2, ("noop", {"durationMs": 3000}))["status"] == "Accepted"
        wait_status(csms, a.station, 2, "Running")
        assert start(csms, a.station, 3, (tid, {"limitMs": 1000}))["status"] == "Accepted"
        (r,) = results(csms, a.station, 1, pred=lambda r: r.get("requestId") == 3)
        assert r["verdict"] == "Inconclusive" and r["statusInfo"]["reasonCode"] == "NotAlone", r
        assert meas(r)["worstLate"]["withinLimit"] is True
        # Parameters are checked before anything runs, naming the test and the parameter.
        res = start(csms, a.station, 4, (tid, {"samples": 0}))
        assert res["status"] == "Rejected" and "test %s, parameter samples" % tid in res["statusInfo"]["additionalInfo"]
    finally:
        assert a.stop() == 0
    assert "Traceback" not in a.log()
