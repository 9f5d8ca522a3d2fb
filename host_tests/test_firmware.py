"""What `make firmware` builds (tools/build.py), run as deployed: the production tree
of .mpy files and the ROMFS image on the unix port against the reference CSMS; the
software integrity self test (lib/diag/tests/integrity.py) on a fresh tree, a tree
with a changed, a missing and an extra file, and from source; the test list of
firmware/tests.json (one place) in the tree, its catalog and diag/builtin."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

import build
from conftest import HEAP, ROOT, AgentProc, base_config, collect, wait_booted
from diag_helpers import meas, results, start

with open(os.path.join(ROOT, "firmware", "tests.json")) as _f:
    LISTS = json.load(_f)


@pytest.fixture
def prod(prod_dir):
    return prod_dir


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _manifest(path):
    """-> ({relpath: (sha, size)}, {header key: value})"""
    files, head = {}, {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# "):
                k, _, v = line[2:].partition(" ")
                head[k] = v
            else:
                sha, size, rel = line.split(" ", 2)
                files[rel] = (sha, int(size))
    return files, head


def _catalog(csms, a, req=1):
    assert csms.call(a.station, "GetDiagnosticsCatalog", {"requestId": req})["status"] == "Accepted"
    return sorted(t["testId"] for p in collect(csms, a.station, "NotifyDiagnosticsCatalog", req) for t in p["test"])


def _integrity(csms, a, req, **params):
    n = len(csms.messages())
    start(csms, a.station, req, ("integrity", params))
    (r,) = results(csms, a.station, 1, after=n)
    return r


# --- the build itself ------------------------------------------------------------

@pytest.mark.req("DG18.FR.01")
def test_manifest_lists_every_deployed_file_with_its_hash(prod):
    files, head = _manifest(os.path.join(prod, "MANIFEST"))
    on_disk = sorted(os.path.relpath(os.path.join(d, n), prod).replace(os.sep, "/")
                     for d, _, ns in os.walk(os.path.join(prod, "lib")) for n in ns) + ["boot.py", "main.py"]
    assert sorted(files) == sorted(on_disk)
    for rel, (sha, size) in files.items():
        p = os.path.join(prod, rel)
        assert _sha(p) == sha and os.path.getsize(p) == size, rel
    # Only compiled code in the tree, as mpy-cross targets the binary's ABI.
    assert all(r.endswith(".mpy") for r in files if r.startswith("lib/")), files
    version, mpy = build.mpy_target()
    assert head["micropython"] == "%s mpy %s" % (version, mpy) and mpy == build.runtime_mpy()
    # The ROMFS image: its hash in the manifest, and it is a ROMFS (mpremote's header).
    name, sha, size = head["image"].split()
    img = os.path.join(prod, name)
    assert (_sha(img), os.path.getsize(img)) == (sha, int(size))
    with open(img, "rb") as f:
        assert f.read(3) == b"\xd2\xcd\x31"


@pytest.mark.req("DG18.FR.02")
def test_production_build_ships_the_chosen_tests_only(prod, build_dir):
    shipped = sorted(n[:-4] for n in os.listdir(os.path.join(prod, "lib", "diag", "tests"))
                     if n.endswith(".mpy") and not n.startswith("_"))
    assert shipped == sorted(LISTS["production"]) and "noop" not in shipped
    with open(os.path.join(prod, "gen", "diag", "builtin.py")) as f:
        src = f.read()
    ns = {}
    exec(src, ns)
    assert list(ns["TESTS"]) == sorted(LISTS["production"]) and ns["DEV"] is False
    _, head = _manifest(os.path.join(prod, "MANIFEST"))
    assert ns["CODE"] == head["code"] and ns["MPY"] == build.mpy_target()[1]
    # The development build (what the other host tests run) has noop too.
    assert os.path.exists(os.path.join(build_dir, "lib", "diag", "tests", "noop.mpy"))


def test_test_list_errors_and_unlisted_modules(tmp_path, monkeypatch):
    tj = tmp_path / "tests.json"
    monkeypatch.setattr(build, "TESTS_JSON", str(tj))
    tj.write_text(json.dumps({"production": ["memory", "nosuchtest"], "development": ["noop"]}))
    with pytest.raises(build.BuildError, match="'nosuchtest'"):
        build.choose_tests(False)
    # A module in neither list: in the development build, left out of production with a word.
    tj.write_text(json.dumps({"production": ["memory"], "development": ["noop"]}))
    prod_ids, warn = build.choose_tests(False)
    assert prod_ids == ["memory"] and "health" in warn[0] and "left out of the production build" in warn[0]
    dev_ids, warn = build.choose_tests(True)
    assert {"memory", "noop", "health"} <= set(dev_ids) and warn == []


def test_make_firmware_prints_the_figures(prod):
    text = build.report(prod)  # what `make firmware` prints after building
    for p in ("ocpp/", "ocpp/ops/", "model/", "diag/", "diag/tests/", "net/", "modbus/", "umodbus/"):
        assert "\n%s " % p in text, text
    assert "route .mpy tree: agent " in text and "route ROMFS image: agent.romfs " in text
    with open(os.path.join(prod, "BUILD.json")) as f:
        info = json.load(f)
    assert "agent %d B" % info["sizes"]["agent"] in text and info["dev"] is False
    assert "production build" in text and "line numbers dropped" in text
    assert info["image"] == os.path.getsize(os.path.join(prod, "agent.romfs"))
    assert sum(v for k, v in info["sizes"].items() if k not in ("agent", "total")) == info["sizes"]["total"]


# --- the agent as deployed ---------------------------------------------------------

@pytest.mark.req("DG18.FR.02", "DG18.FR.03")
def test_production_tree_runs_and_its_integrity_passes(csms, prod, tmp_path):
    a = AgentProc(prod, base_config(csms.url, str(tmp_path), stationId="PROD1", vendor="Ladesäule GmbH"), str(tmp_path)).start()
    try:
        wait_booted(csms, a)
        # The catalog is the charger maker's list: no noop, no diagTests in the config.
        assert _catalog(csms, a) == sorted(LISTS["production"])
        assert start(csms, a.station, 2, ("noop", {"durationMs": 0}))["statusInfo"]["reasonCode"] == "UnknownTest"
        r = _integrity(csms, a, 3)
        assert r["verdict"] == "Passed", r
        files, head = _manifest(os.path.join(prod, "MANIFEST"))
        m = meas(r)
        assert m["filesChecked"]["value"] == len(files) and m["mismatches"]["value"] == 0
        assert m["mismatches"]["withinLimit"] is True
        assert "firmware MicroPython %s (mpy %s), built %s, code %s" % (
            build.mpy_target() + (head["built"], head["code"][:16])) in r["evidence"]
    finally:
        assert a.stop() == 0
    assert "Traceback" not in a.log()


@pytest.mark.req("DG18.FR.04")
def test_integrity_names_a_changed_a_missing_and_an_extra_file(csms, prod, tmp_path):
    tree = str(tmp_path / "tree")
    shutil.copytree(prod, tree)
    # One byte of a module the agent does not load at start (the NTS-KE client).
    changed = os.path.join(tree, "lib", "net", "ntske.mpy")
    with open(changed, "r+b") as f:
        f.seek(40)
        b = f.read(1)
        f.seek(40)
        f.write(bytes([b[0] ^ 1]))
    os.remove(os.path.join(tree, "lib", "net", "dns.mpy"))
    # An extra test module: reported, and not offered (the catalog is the build's list).
    shutil.copy(os.path.join(tree, "lib", "diag", "tests", "memory.mpy"),
                os.path.join(tree, "lib", "diag", "tests", "zz_extra.mpy"))
    a = AgentProc(tree, base_config(csms.url, str(tmp_path)), str(tmp_path)).start()
    try:
        wait_booted(csms, a)
        assert "zz_extra" not in _catalog(csms, a)
        r = _integrity(csms, a, 2)
        assert r["verdict"] == "Failed", r
        assert r["statusInfo"]["reasonCode"] == "Mismatch"
        for what in ("changed lib/net/ntske.mpy", "missing lib/net/dns.mpy", "extra lib/diag/tests/zz_extra.mpy"):
            assert what in r["evidence"], r["evidence"]
        assert "changed lib/net/sntp.mpy" not in r["evidence"]
        assert meas(r)["mismatches"]["value"] == 3 and meas(r)["mismatches"]["withinLimit"] is False
    finally:
        assert a.stop() == 0
    assert "Traceback" not in a.log()


@pytest.mark.req("DG18.FR.04")
def test_an_extra_file_is_named_and_passes_only_with_allow_extra(csms, prod, tmp_path):
    tree = str(tmp_path / "tree")
    shutil.copytree(prod, tree)
    # A module added to one of the agent's packages is the agent's business; the
    # charger maker's own package next to them is not.
    with open(os.path.join(tree, "lib", "ocpp", "vendor_hook.py"), "w", encoding="utf-8") as f:
        f.write("# Ladestation Köln\n")
    os.makedirs(os.path.join(tree, "lib", "laderegler"))
    with open(os.path.join(tree, "lib", "laderegler", "pwm.py"), "w", encoding="utf-8") as f:
        f.write("# Steuerung für Ladepunkt 1\n")
    a = AgentProc(tree, base_config(csms.url, str(tmp_path)), str(tmp_path)).start()
    try:
        wait_booted(csms, a)
        # (one run: the test's minInterval is 10 s; an extra file alone failing by
        # default is part of the three mismatches above)
        r = _integrity(csms, a, 1, allowExtra=True)
        assert r["verdict"] == "Passed" and "extra lib/ocpp/vendor_hook.py" in r["evidence"], r
        assert meas(r)["mismatches"]["value"] == 1 and "laderegler" not in r["evidence"]
    finally:
        assert a.stop() == 0


@pytest.mark.req("DG18.FR.03")
def test_romfs_image_runs_and_its_integrity_passes(csms, prod, tmp_path):
    # The unix port mounts a ROMFS image from RAM (vfs.VfsRom), as tools/romboot.py
    # does for the bench: the agent then imports from /rom/lib and the integrity test
    # checks the image's own MANIFEST.
    entry = tmp_path / "rom"
    entry.mkdir()
    (entry / "main.py").write_text(
        "import sys, vfs\n"
        "with open(%r, 'rb') as f:\n    img = f.read()\n"
        "vfs.mount(vfs.VfsRom(img), '/rom')\nsys.path.insert(0, '/rom/lib')\n"
        "import agent\nsys.exit(agent.main(sys.argv) or 0)\n" % os.path.join(prod, "agent.romfs"))
    # On the unix port the image itself sits in the heap (on a board it is flash).
    heap = "%dk" % (int(HEAP.rstrip("k")) + os.path.getsize(os.path.join(prod, "agent.romfs")) // 1024 + 1)
    a = AgentProc(str(entry), base_config(csms.url, str(tmp_path)), str(tmp_path), heap=heap).start()
    try:
        wait_booted(csms, a)
        assert _catalog(csms, a) == sorted(LISTS["production"])
        r = _integrity(csms, a, 2)
        assert r["verdict"] == "Passed", r
        files, _ = _manifest(os.path.join(prod, "MANIFEST"))
        assert meas(r)["filesChecked"]["value"] == len([f for f in files if f.startswith("lib/")])
    finally:
        assert a.stop() == 0
    assert "Traceback" not in a.log()


@pytest.mark.req("DG18.FR.05")
def test_integrity_from_source_is_inconclusive(csms, tmp_path):
    a = AgentProc(ROOT, base_config(csms.url, str(tmp_path)), str(tmp_path)).start()
    try:
        wait_booted(csms, a)
        r = _integrity(csms, a, 1)
        assert r["verdict"] == "Inconclusive", r
        assert r["statusInfo"]["reasonCode"] == "NoManifest"
        assert "running from source" in r["statusInfo"]["additionalInfo"]
    finally:
        assert a.stop() == 0


@pytest.mark.req("DG18.FR.03", "DG18.FR.04")
def test_a_manifest_of_another_build_or_a_missing_identity_fails(csms, prod, tmp_path):
    # A module replaced and its manifest line updated to match: every file checks,
    # but the manifest no longer hashes to the code hash built into diag/builtin.
    tree = str(tmp_path / "tree")
    shutil.copytree(prod, tree)
    rel = "lib/net/ntske.mpy"
    p = os.path.join(tree, rel)
    with open(p, "ab") as f:
        f.write(b"\0")
    text = open(os.path.join(tree, "MANIFEST")).read()
    old = [l for l in text.splitlines() if l.endswith(" " + rel)][0]
    text = text.replace(old, "%s %d %s" % (_sha(p), os.path.getsize(p), rel))
    open(os.path.join(tree, "MANIFEST"), "w").write(text)
    # The generated module gone: the tree is then offered as listed, and it is missing.
    tree2 = str(tmp_path / "tree2")
    shutil.copytree(prod, tree2)
    os.remove(os.path.join(tree2, "lib", "diag", "builtin.mpy"))
    for n, (t, want) in enumerate(((tree, "the manifest is not this build's"),
                                   (tree2, "missing lib/diag/builtin.mpy"))):
        work = tmp_path / ("w%d" % n)
        work.mkdir()
        a = AgentProc(t, base_config(csms.url, str(work), stationId="CS%d" % n), str(work)).start()
        try:
            wait_booted(csms, a)
            r = _integrity(csms, a, 1)
            assert r["verdict"] == "Failed" and want in r["evidence"], r
            assert "changed " + rel not in r["evidence"]
        finally:
            assert a.stop() == 0


@pytest.mark.req("DG18.FR.05")
def test_on_a_frozen_build_it_reports_the_identity_and_catches_shadowing():
    # No frozen binary here: the module is told it was loaded from .frozen (as frozen
    # modules are), with a generated diag.builtin; first every agent module claims
    # to be frozen too, then one (lazy) comes from a file, as a stray lib/lazy.py on
    # the filesystem would make it.
    script = r'''
import sys, asyncio
class B:
    TESTS = ("integrity", "memory"); MICROPYTHON = "1.29.0"; MPY = "6.3"
    BUILT = "2026-11-29T12:00:00Z"; CODE = "ab" * 32; DEV = False
sys.modules["diag.builtin"] = B
import diag
diag.builtin = B
from diag.tests import integrity
class Ctx:
    def __init__(self):
        self.p = {"allowExtra": False}; self.ev = []; self.m = {}; self.reason = None
    def evidence(self, t): self.ev.append(t)
    def measure(self, name, v, unit=None, limit=None, ok=None): self.m[name] = (v, ok); return ok
    def fail(self, code, info): self.reason = (code, info)
for name in list(sys.modules):
    if name.split(".")[0] in integrity._OURS:
        try:
            sys.modules[name].__file__ = ".frozen/" + name.replace(".", "/") + ".py"
        except (AttributeError, TypeError):
            pass
c = Ctx()
print("ONE", asyncio.run(integrity._check(c)), c.m, c.ev)
import lazy
lazy.__file__ = "lib/lazy.py"
sys.modules["diag.builtin"] = B
c = Ctx()
print("TWO", asyncio.run(integrity._check(c)), c.m, c.ev, c.reason)
'''
    env = dict(os.environ, MICROPYPATH=".frozen:" + os.path.join(ROOT, "lib"))
    r = subprocess.run([os.path.join(ROOT, ".venv", "bin", "micropython"), "-c", script], capture_output=True,
                       text=True, timeout=60, env=env)
    out = r.stdout
    assert "ONE Passed" in out, out + r.stderr
    assert "firmware MicroPython 1.29.0 (mpy 6.3), built 2026-11-29T12:00:00Z, code abababababababab, 2 tests" in out
    two = [l for l in out.splitlines() if l.startswith("TWO")][0]
    assert two.startswith("TWO Failed") and "lazy from lib/lazy.py" in two and "'Shadowed'" in two, two
