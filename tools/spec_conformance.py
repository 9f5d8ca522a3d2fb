"""The conformance table of docs/diagnostics/SPEC.md: requirement id -> the host tests
that check it, generated so that it cannot drift from the test suite.

    python tools/spec_conformance.py           # rewrite the table (`make spec`)
    python tools/spec_conformance.py --check   # exit 1 when SPEC.md is not what it would write

Requirements are the rows `| DGnn.FR.mm | precondition | requirement |` of the tables
under `### DGnn - <name>` headings. Tests name what they check with
`@pytest.mark.req("DGnn.FR.mm", ...)`; the markers are read through pytest's own
collection (this module is also the pytest plugin that reports them), so parametrized
tests, marks set by decorators and conftest-level plugins count exactly as pytest sees them.
A requirement no test checks must say so in its row: "(untested: reason)".
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(ROOT, "docs", "diagnostics", "SPEC.md")
BEGIN = "<!-- conformance:begin -->"
END = "<!-- conformance:end -->"

_HEADING = re.compile(r"^### (DG\d\d) - \S")
_ROW = re.compile(r"^\| (DG\d\d\.FR\.\d\d) \| (.+?) \| (.+) \|$")
_ID = re.compile(r"^DG\d\d\.FR\.\d\d$")
_UNTESTED = re.compile(r"\(untested: ([^)]+)\)")
_ENV = "SPEC_CONFORMANCE_OUT"


def spec_version(text=None):
    """The version in SPEC.md's front matter (`| Version | 1.0 |`, SPEC.md 4.8)."""
    if text is None:
        with open(SPEC, encoding="utf-8") as f:
            text = f.read()
    return re.search(r"^\| Version \| (\d+\.\d+) \|$", text, re.M).group(1)


class Requirement:
    def __init__(self, rid, pre, text, line):
        self.id, self.pre, self.text, self.line = rid, pre, text, line
        m = _UNTESTED.search(text)
        self.untested = m.group(1) if m else None


def requirements(text):
    """SPEC.md text -> {id: Requirement} in document order; raises ValueError on a row
    outside its use case, a duplicate id, or a row whose id looks wrong."""
    out = {}
    uc = None
    generated = False  # inside the conformance table, which lists the ids again
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith((BEGIN, END)):
            generated = line.startswith(BEGIN)
            continue
        if generated:
            continue
        h = _HEADING.match(line)
        if h:
            uc = h.group(1)
            continue
        if line.startswith(("## ", "### ")):
            uc = None  # another section: a requirement row here belongs to no use case
        if not line.startswith("| DG"):
            continue
        m = _ROW.match(line)
        if not m or m.group(2).count(" | ") or m.group(3).count(" | "):
            raise ValueError("SPEC.md:%d: a requirement row has exactly 3 columns: %s" % (n, line[:80]))
        rid = m.group(1)
        if uc is None or not rid.startswith(uc + "."):
            raise ValueError("SPEC.md:%d: %s is not under its heading '### %s - ...'" % (n, rid, rid[:4]))
        if rid in out:
            raise ValueError("SPEC.md:%d: %s defined twice (first on line %d)" % (n, rid, out[rid].line))
        out[rid] = Requirement(rid, m.group(2), m.group(3), n)
    return out


# --- pytest plugin: runs inside `pytest --collect-only -p spec_conformance` ---------

def pytest_collection_modifyitems(session, config, items):
    path = os.environ.get(_ENV)
    if not path:
        return
    found = {}
    for item in items:
        ids = [a for m in item.iter_markers("req") for a in m.args]
        if ids:
            # One entry per test function: its parametrized cases check the same thing.
            found.setdefault(item.nodeid.split("[")[0], set()).update(ids)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({k: sorted(v) for k, v in found.items()}, f)


def markers(root=ROOT, tests="host_tests"):
    """{test node id: [requirement ids]} as pytest collects them."""
    fd, out = tempfile.mkstemp(suffix=".json", prefix="spec-conformance-")
    os.close(fd)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(root, "tools")] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    env[_ENV] = out
    try:
        p = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                            "-p", "spec_conformance", tests], cwd=root, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        if p.returncode != 0:
            raise RuntimeError("test collection failed:\n" + p.stdout.decode(errors="replace")[-3000:])
        with open(out, encoding="utf-8") as f:
            return json.load(f)
    finally:
        os.remove(out)


def by_requirement(marks):
    """{node id: [ids]} -> {id: [node ids]}, sorted."""
    out = {}
    for node, ids in marks.items():
        for rid in ids:
            out.setdefault(rid, []).append(node)
    return {k: sorted(v) for k, v in out.items()}


def problems(reqs, marks):
    """What makes the conformance claim wrong, one line each."""
    out = []
    tested = by_requirement(marks)
    for node, ids in sorted(marks.items()):
        for rid in ids:
            if not _ID.match(rid):
                out.append("%s: marker %r is not a requirement id (DGnn.FR.mm)" % (node, rid))
            elif rid not in reqs:
                out.append("%s: marker names %s, which SPEC.md does not define" % (node, rid))
    for rid, r in reqs.items():
        if rid not in tested and not r.untested:
            out.append("%s has no test: add @pytest.mark.req(%r) to the tests that check it, "
                       "or say '(untested: reason)' in its row" % (rid, rid))
        if rid in tested and r.untested:
            out.append("%s is flagged untested but %s check it: drop the flag" % (rid, ", ".join(tested[rid])))
    return out


def table(reqs, marks):
    tested = by_requirement(marks)
    n_tested = sum(1 for r in reqs if r in tested)
    rows = ["%d requirements: %d checked by host tests, %d not (the reason is in each row)."
            % (len(reqs), n_tested, len(reqs) - n_tested), "",
            "| Requirement | Host tests |", "| --- | --- |"]
    for rid, r in reqs.items():
        if rid in tested:
            cell = "<br>".join("`%s`" % t for t in tested[rid])
        else:
            cell = "untested: " + (r.untested or "NO TEST")
        rows.append("| %s | %s |" % (rid, cell))
    return "\n".join(rows)


def render(text, tbl):
    """SPEC.md text with the table between the markers replaced."""
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        raise ValueError("SPEC.md has no %s ... %s section" % (BEGIN, END))
    return text[:i + len(BEGIN)] + "\n" + tbl + "\n" + text[j:]


def generate(text, marks):
    return render(text, table(requirements(text), marks))


def main(argv):
    check = "--check" in argv
    with open(SPEC, encoding="utf-8") as f:
        text = f.read()
    marks = markers()
    reqs = requirements(text)
    new = generate(text, marks)
    bad = problems(reqs, marks)
    for p in bad:
        print("spec_conformance:", p, file=sys.stderr)
    if check:
        if new != text:
            print("spec_conformance: SPEC.md's conformance table is out of date: run `make spec`",
                  file=sys.stderr)
            return 1
    elif new != text:
        with open(SPEC, "w", encoding="utf-8") as f:
            f.write(new)
        print("spec_conformance: SPEC.md conformance table rewritten")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
