"""`make firmware`: compile lib/ with mpy-cross into the deployable tree build/, the
same tree as a ROMFS image, and the integrity manifest of both.

    build/lib/...          the agent as .mpy (and umodbus, its one dependency)
    build/main.py, boot.py the device's entry points
    build/MANIFEST         SHA-256 and size of every deployed file, and of the image
    build/agent.romfs      lib/ plus its own MANIFEST, for `mpremote romfs deploy`
    build/gen/diag/builtin.py  the generated module, as source, for a frozen build

The test modules that go in are chosen in ONE place, firmware/tests.json: a
production build (the default) takes its "production" list, a development build
(`make firmware DEV=1`, and the host tests) also its "development" list and any
module listed in neither. The build writes them to diag/builtin.py as TESTS, with
the firmware's identity, so a frozen build needs no `diagTests` in its config.

Usable as a function (host tests, bench): build(out, dev=True) -> bytes of agent .mpy.
"""
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
MPY_CROSS = os.path.join(BIN, "mpy-cross")
MICROPYTHON = os.path.join(BIN, "micropython")
TESTS_JSON = os.path.join(ROOT, "firmware", "tests.json")
# Third-party modules the agent imports: umodbus for the meter test's Modbus frames,
# from .deps/ (make setup). Only the modules it uses: umodbus's own serial/tcp
# transports (blocking, and needing machine.UART) stay out, and so does its typing
# shim (lib/modbus/frame.py stands in for it). They go to lib/umodbus/ in the tree,
# where `mip` would put them on a board.
DEPS = ("umodbus/__init__.py", "umodbus/version.py", "umodbus/const.py", "umodbus/functions.py")
GENERATED = "diag/builtin.py"
MANIFEST = "MANIFEST"
IMAGE = "agent.romfs"
# Size report: the agent per package (deepest match wins), then its dependencies.
PACKAGES = ("ocpp/ops", "ocpp", "model", "diag/ops", "diag/tests", "diag", "net", "modbus", "umodbus")
LIMIT = 100 * 1024  # the target for all of lib/ as .mpy


class BuildError(Exception):
    pass


def mpy_target():
    """(MicroPython version, mpy version) mpy-cross emits, e.g. ("1.29.0", "6.3")."""
    out = subprocess.run([MPY_CROSS, "--version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"MicroPython v(\S+) on .* emitting mpy v(\d+\.\d+)", out)
    if not m:
        raise BuildError("cannot read mpy-cross --version: %r" % out)
    return m.group(1), m.group(2)


def runtime_mpy(micropython=MICROPYTHON):
    """The .mpy version a MicroPython binary loads: sys.implementation._mpy holds the
    version in bits 0-7 and the sub-version in bits 8-9 (the rest is the native arch,
    which bytecode-only files do not use)."""
    out = subprocess.run([micropython, "-c", "import sys;print(sys.implementation._mpy)"],
                         capture_output=True, text=True, check=True).stdout
    v = int(out.strip())
    return "%d.%d" % (v & 0xFF, (v >> 8) & 3)


def choose_tests(dev):
    """-> (test ids to ship, warnings). A production id with no module is an error: the
    charger maker asked for a test this tree cannot give."""
    with open(TESTS_JSON, encoding="utf-8") as f:
        lists = json.load(f)
    prod, devel = lists.get("production", []), lists.get("development", [])
    there = sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, "lib", "diag", "tests"))
                   if n.endswith(".py") and not n.startswith("_"))
    for t in prod + devel:
        if t not in there:
            raise BuildError("firmware/tests.json names %r, which lib/diag/tests/ does not have" % t)
    unlisted = [t for t in there if t not in prod and t not in devel]
    warn = []
    if dev:
        return there, warn
    if unlisted:
        warn.append("left out of the production build (in neither list of firmware/tests.json): "
                    + ", ".join(unlisted))
    return sorted(prod), warn


def _sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(65536), b""):
            h.update(chunk)
    return h.hexdigest()


def _compile(src, rel, dst, lines):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    # -s: the source name in tracebacks, relative (no build machine paths in the image).
    cmd = [MPY_CROSS, "-s", rel, "-o", dst]
    if not lines:
        cmd += ["-X", "no-source-lines"]  # ~5 % smaller; tracebacks keep file and function
    subprocess.run(cmd + [src], check=True)
    return os.path.getsize(dst)


def _entry(root, rel):
    p = os.path.join(root, rel)
    return "%s %d %s" % (_sha(p), os.path.getsize(p), rel)


def _files(root, sub):
    out = []
    for d, dirs, names in os.walk(os.path.join(root, sub)):
        dirs.sort()
        for n in sorted(names):
            out.append(os.path.relpath(os.path.join(d, n), root).replace(os.sep, "/"))
    return out


def _header(info):
    return ["# agent-manifest 1",
            "# micropython %s mpy %s" % (info["micropython"], info["mpy"]),
            "# built %s%s" % (info["built"], " dev" if info["dev"] else ""),
            "# code %s" % info["code"],
            "# tests %s" % ",".join(info["tests"])]


def build(out=os.path.join(ROOT, "build"), dev=True, lines=None, built=None):
    """Write the tree, image and manifest to `out`; -> bytes of the agent's .mpy files
    (lib/ without its dependencies). The details go to out/BUILD.json.
    dev: take the development tests too (the default for host tests and the bench;
    `make firmware` passes dev=False). lines: keep line numbers (default: in dev)."""
    if lines is None:
        lines = dev
    version, mpy = mpy_target()
    have = runtime_mpy()
    if have != mpy:
        raise BuildError("mpy-cross emits mpy v%s but %s loads v%s: pin matching versions"
                         % (mpy, MICROPYTHON, have))
    tests, warn = choose_tests(dev)
    shutil.rmtree(out, ignore_errors=True)
    lib_src = os.path.join(ROOT, "lib")
    lib_out = os.path.join(out, "lib")
    for d, dirs, names in os.walk(lib_src):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for name in sorted(names):
            src = os.path.join(d, name)
            rel = os.path.relpath(src, lib_src).replace(os.sep, "/")
            if not name.endswith(".py") or rel == GENERATED:
                continue
            if rel.startswith("diag/tests/") and not name.startswith("_") and name[:-3] not in tests:
                continue
            _compile(src, rel, os.path.join(lib_out, rel[:-3] + ".mpy"), lines)
    for rel in DEPS:
        _compile(os.path.join(ROOT, ".deps", rel), rel, os.path.join(lib_out, rel[:-3] + ".mpy"), lines)
    for name in ("main.py", "boot.py"):
        shutil.copy(os.path.join(ROOT, name), out)
    # The firmware's identity: a hash over the manifest lines of every file in lib/
    # but the generated module itself (which carries it). The integrity test
    # recomputes it from MANIFEST, so a manifest from another build is caught too.
    files = _files(out, "lib")
    code = hashlib.sha256("".join(_entry(out, f) + "\n" for f in files).encode()).hexdigest()
    if built is None:
        # SOURCE_DATE_EPOCH: reproducible builds (the same sources give the same hashes).
        t = int(os.environ.get("SOURCE_DATE_EPOCH") or time.time())
        built = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    info = {"micropython": version, "mpy": mpy, "built": built, "code": code, "tests": tests,
            "dev": bool(dev)}
    gen = os.path.join(out, "gen", GENERATED)
    os.makedirs(os.path.dirname(gen), exist_ok=True)
    with open(gen, "w", encoding="utf-8") as f:
        f.write("# Generated by tools/build.py (firmware/tests.json): do not edit.\n"
                "# The tests this firmware offers when its config has no diagTests, and\n"
                "# the firmware's identity (the integrity test reports it).\n"
                "TESTS = (%s)\n" % "".join(json.dumps(t) + ", " for t in tests) +
                "MICROPYTHON = %s\nMPY = %s\nBUILT = %s\nCODE = %s\nDEV = %s\n" % (
                    json.dumps(version), json.dumps(mpy), json.dumps(built), json.dumps(code),
                    "True" if dev else "False"))
    _compile(gen, GENERATED, os.path.join(lib_out, GENERATED[:-3] + ".mpy"), lines)
    frozen_manifest(os.path.join(out, "gen", "manifest.py"), tests)
    files = ["boot.py", "main.py"] + _files(out, "lib")
    body = [_entry(out, f) for f in files]
    # The ROMFS image: lib/ and a MANIFEST of the image's own files (its root is /rom).
    stage = os.path.join(out, "romfs-src")
    shutil.copytree(lib_out, os.path.join(stage, "lib"))
    with open(os.path.join(stage, MANIFEST), "w") as f:
        f.write("\n".join(_header(info) + [x for x in body if x.split(" ", 2)[2].startswith("lib/")]) + "\n")
    image = make_image(stage, os.path.join(out, IMAGE))
    shutil.rmtree(stage)
    with open(os.path.join(out, MANIFEST), "w") as f:
        f.write("\n".join(_header(info) + ["# image %s %s %d" % (IMAGE, _sha(image), os.path.getsize(image))]
                          + body) + "\n")
    sizes = sizes_of(lib_out)
    info.update(sizes=sizes, image=os.path.getsize(image), warnings=warn, lines=bool(lines))
    with open(os.path.join(out, "BUILD.json"), "w") as f:
        json.dump(info, f, indent=1)
    return sizes["agent"]


def frozen_main(d):
    """d/main.py that starts the agent frozen into the binary: alone in its directory
    (the script's directory is searched first) and adding nothing to sys.path, so
    only the frozen code is found. -> its path."""
    os.makedirs(d, exist_ok=True)
    main = os.path.join(d, "main.py")
    with open(main, "w") as f:
        f.write("import sys\nimport agent\nsys.exit(agent.main(sys.argv) or 0)\n")
    return main


def frozen_manifest(path, tests):
    """A manifest for include() from a port's manifest (MicroPython's
    tools/manifestfile.py): the same modules as the tree, the same tests, and
    diag/builtin.py from this build, so that a frozen firmware offers what the tree
    does and needs no diagTests. Absolute paths: it belongs to this build."""
    lib = os.path.join(ROOT, "lib")
    out = ["# Generated by tools/build.py for this build (tests: %s): do not edit." % ",".join(tests)]
    for d in sorted(os.listdir(lib)):
        if os.path.isdir(os.path.join(lib, d)) and d != "__pycache__":
            files = []
            for rel in _files(os.path.join(lib, d), "."):
                rel = rel[2:] if rel.startswith("./") else rel
                if not rel.endswith(".py") or (d + "/" + rel) == GENERATED:
                    continue
                if rel.startswith("tests/") and d == "diag" and not rel[6:].startswith("_") and rel[6:-3] not in tests:
                    continue
                files.append(rel)
            out.append("package(%r, files=%r, base_path=%r)" % (d, tuple(files), lib))
        elif d.endswith(".py"):
            out.append("module(%r, base_path=%r)" % (d, lib))
    out.append("package('diag', files=('builtin.py',), base_path=%r)" % os.path.dirname(path))
    out.append("package('umodbus', files=%r, base_path=%r)" % (tuple(r.split("/", 1)[1] for r in DEPS),
                                                               os.path.join(ROOT, ".deps")))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def make_image(src, dst):
    """ROMFS image of directory src (already compiled: no .py goes in)."""
    from mpremote.romfs import make_romfs
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the tree it builds
        data = make_romfs(src, mpy_cross=False)
    with open(dst, "wb") as f:
        f.write(data)
    return dst


def romfs(out=os.path.join(ROOT, "build")):
    """The ROMFS image build() wrote (the benchmark runs the agent from it)."""
    return os.path.join(out, IMAGE)


def sizes_of(lib_out):
    """{package: bytes of .mpy}, "agent" (all but the dependencies), "total"."""
    s = {p: 0 for p in PACKAGES}
    s["(top level)"] = 0
    for rel in _files(lib_out, "."):
        rel = rel[2:] if rel.startswith("./") else rel
        n = os.path.getsize(os.path.join(lib_out, rel))
        d = rel.rsplit("/", 1)[0] if "/" in rel else ""
        key = next((p for p in PACKAGES if d == p), None)
        s[key or "(top level)"] += n
    s["total"] = sum(v for k, v in s.items())
    s["agent"] = s["total"] - s["umodbus"]
    return s


def report(out):
    with open(os.path.join(out, "BUILD.json")) as f:
        info = json.load(f)
    s = info["sizes"]
    lines = ["firmware: MicroPython %s, mpy v%s (mpy-cross and the unix port agree), %s build, %s, "
             "line numbers %s" % (info["micropython"], info["mpy"], "development" if info["dev"] else "production",
                                  info["built"], "kept" if info["lines"] else "dropped"),
             "tests: " + ", ".join(info["tests"])]
    lines += ["warning: " + w for w in info["warnings"]]
    lines.append("%-14s %9s" % ("package", ".mpy B"))
    for p in ("(top level)",) + PACKAGES:
        lines.append("%-14s %9d" % (p + ("/" if p[0] != "(" else ""), s[p]))
    lines.append("route .mpy tree: agent %d B (%.1f KB, target %d KB: %s), with umodbus %d B"
                 % (s["agent"], s["agent"] / 1024, LIMIT // 1024,
                    "met" if s["agent"] <= LIMIT else "missed by %.1f KB" % ((s["agent"] - LIMIT) / 1024),
                    s["total"]))
    lines.append("route ROMFS image: %s %d B (%.1f KB)" % (IMAGE, info["image"], info["image"] / 1024))
    lines.append("code hash %s; manifest %s" % (info["code"][:16], os.path.join(out, MANIFEST)))
    return "\n".join(lines)


PACKAGE_JSON = os.path.join(ROOT, "package.json")
UMODBUS = ("github:brainelectronics/micropython-modbus", "2.3.7")  # as tools/fetch_umodbus.py pins


def package_json():
    """package.json for `mip` (mpremote mip install github:OWNER/REPO, or mip.install
    on the board): the agent's sources in lib/ with the production tests, relative
    to this file, and umodbus from its own package.json at the pinned release.
    Written by `tools/build.py --package-json`; a host test keeps it in step with lib/."""
    prod, _ = choose_tests(False)
    urls = []
    lib = os.path.join(ROOT, "lib")
    for rel in _files(lib, "."):
        rel = rel[2:] if rel.startswith("./") else rel
        if not rel.endswith(".py") or rel == GENERATED or "__pycache__" in rel:
            continue
        if rel.startswith("diag/tests/") and not rel.split("/")[-1].startswith("_") and rel[11:-3] not in prod:
            continue
        urls.append([rel, "lib/" + rel])
    return {"urls": urls, "deps": [list(UMODBUS)], "version": "0.1.0"}


def write_package_json(path=PACKAGE_JSON):
    p = package_json()
    with open(path, "w") as f:  # one file per line: diffs show which module came or went
        f.write('{\n "urls": [\n  ' + ",\n  ".join(json.dumps(u) for u in p["urls"]) + "\n ],\n"
                ' "deps": %s,\n "version": %s\n}\n' % (json.dumps(p["deps"]), json.dumps(p["version"])))


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--dev", action="store_true", help="include the development tests (noop)")
    ap.add_argument("--lines", action="store_true", help="keep line numbers in production too")
    ap.add_argument("--package-json", action="store_true", help="only rewrite package.json (mip) from lib/")
    a = ap.parse_args(argv)
    if a.package_json:
        write_package_json()
        return 0
    try:
        build(a.out, dev=a.dev, lines=True if a.lines else None)
    except BuildError as e:
        print("build: " + str(e), file=sys.stderr)
        return 2
    print(report(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
