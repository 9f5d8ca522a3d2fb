# Software integrity self test: every deployed file against the integrity manifest
# the build wrote (tools/build.py: MANIFEST next to lib/, in the tree and inside the
# ROMFS image). A half-finished deploy, a corrupted flash page or a module edited in
# the field shows up here by name. This guards against accidents, not an attacker
# who can rewrite the manifest too (signed firmware is the board's secure boot).
# The manifest is streamed line by line and files hashed in small chunks, yielding
# to the event loop, so neither RAM nor OCPP traffic suffers on a 100-file tree.
import asyncio
import os
import sys
import time

from micropython import const

TYPE = "SelfTest"
VERSION = "1.0"
DESCRIPTION = "Every deployed module against the build's integrity manifest (SHA-256): missing, extra or changed files"
PARAMS = (
    ("allowExtra", "boolean", None, None, None, None, False, False,
     "files under lib/ that the manifest does not list are reported but do not fail the test"),
)
# Reads only; hashing ~150 KB takes well under a second on an ESP32, the timeout
# leaves room for a slow flash.
CONSTRAINTS = (None, False, (), 120, 10, False)
MEASURES = (("filesChecked", None, None), ("mismatches", None, "= 0"), ("integrityVerified", None, "= 1"))
SCOPE = "station"
CLASSES = ("SoftwareIntegrity",)
COST = (1, 0, 0, "None")  # expectedDuration s, flashWrites, flashBytes, network: reads only
VERDICTS = ("Passed", "Failed", "Inconclusive", "Error")
OUTCOME = ("Passed: every file the manifest lists is there, unchanged, and lib/ holds no other; "
           "Inconclusive when the agent runs from source (no manifest)")

_BUF = const(512)
_SLICE_MS = const(2)  # longest stretch of hashing between two yields to the loop
_MAX_NAMED = const(20)  # evidence names at most this many files
_GEN = "lib/diag/builtin.mpy"  # carries the code hash, so not part of it
_DIR = const(0x4000)
# The agent's own modules: on a frozen build none of them may come from a file.
_OURS = ("agent", "clock", "config", "lazy", "log", "store", "tlsctx", "x509", "netup", "ocpp", "model",
         "diag", "net", "modbus", "umodbus")


def _root():
    # Where this module was loaded from: ".../lib/diag/tests/integrity.mpy".
    f = globals().get("__file__") or ""
    i = f.find("lib/diag/tests/")
    return f, (f[:i] if i >= 0 else None)


def _identity(b):
    return "firmware MicroPython %s (mpy %s), built %s, code %s, %d tests" % (
        b.MICROPYTHON, b.MPY, b.BUILT, b.CODE[:16], len(b.TESTS))


def _due(pace):
    # Yield to the event loop once _SLICE_MS have passed, not at every chunk or
    # file: each yield allocates, and on a fast port most files hash in well under
    # a millisecond. pace: [ticks of the last yield]. A plain function: calling an
    # async one would allocate a coroutine even when nothing is due.
    now = time.ticks_ms()
    if time.ticks_diff(now, pace[0]) < _SLICE_MS:
        return False
    pace[0] = now
    return True


async def _hash(path, buf, pace):
    """-> (hex SHA-256, size) of the file, or None when it cannot be opened."""
    import hashlib
    import binascii
    try:
        f = open(path, "rb")
    except OSError:
        return None
    h = hashlib.sha256()
    size = 0
    with f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(buf if n == _BUF else memoryview(buf)[:n])  # no slice object per full chunk
            size += n
            if _due(pace):
                await asyncio.sleep_ms(0)
    return binascii.hexlify(h.digest()).decode(), size


def _entries(path):
    """Yields (size, relpath, line) of each manifest line "<sha256> <size> <path>";
    comments skipped. Slices, not split(): a third of the garbage."""
    with open(path) as f:
        for line in f:
            if len(line) < 68 or line[0] == "#":
                continue
            j = line.find(" ", 65)
            yield int(line[65:j]), line[j + 1:].rstrip(), line


def _listed(manifest, rel):
    for _, r, _ in _entries(manifest):
        if r == rel:
            return True
    return False


def _top(rel):
    # "lib/ocpp/ws.mpy" -> "ocpp", "lib/agent.mpy" -> "agent". A file under lib/ is
    # the agent's when its first name is one the manifest has; the charger maker's
    # own modules there are none of this test's business. (A lib/agent.py would be
    # ours: MicroPython imports it before lib/agent.mpy.)
    t = rel[4:]
    i = t.find("/")
    if i >= 0:
        return t[:i]
    i = t.rfind(".")
    return t[:i] if i > 0 else t


def _walk(root, sub):
    """Yields the relpath of every file under root + sub."""
    stack = [sub]
    while stack:
        d = stack.pop()
        try:
            it = os.ilistdir(root + d)
        except OSError:
            continue
        for e in it:
            if e[1] == _DIR:
                stack.append(d + "/" + e[0])
            else:
                yield d + "/" + e[0]


def _from_file(f):
    # A frozen module's __file__ is its name in the image: ".frozen/clock.py" on some
    # versions, plain "clock.py" on others (MicroPython 1.29 on qemu, seen by
    # qemu-check); it is always a .py name and no such file exists. A module loaded
    # from the filesystem names a file that does (.mpy, or .py read from flash).
    if f.startswith(".frozen/"):
        return False
    if f.endswith(".mpy"):
        return True
    try:
        os.stat(f)
        return True
    except OSError:
        return False


def _frozen(ctx, b):
    # Frozen code is part of the firmware image (its integrity is the bootloader's);
    # what can go wrong here is a file on the filesystem shadowing a frozen module.
    bad = []
    for name in sys.modules:
        top = name.split(".", 1)[0]
        if top in _OURS:
            f = getattr(sys.modules[name], "__file__", None)
            if f and _from_file(f):
                bad.append("%s from %s" % (name, f))
    ctx.evidence(_identity(b))
    ctx.measure("filesChecked", 0)
    ctx.measure("mismatches", len(bad), None, "= 0", not bad)
    ctx.measure("integrityVerified", 0 if bad else 1, None, "= 1", not bad)
    if bad:
        ctx.evidence("frozen modules shadowed by files: " + ", ".join(bad[:_MAX_NAMED]))
        ctx.fail("Shadowed", "%d agent modules load from files, not the frozen firmware" % len(bad))
        return "Failed"
    return "Passed"


async def run(ctx):
    import gc
    import lazy
    try:
        return await _check(ctx)
    finally:
        # Leave the heap as found: the generated module dropped (the registry read it
        # at start and drops it too), and the garbage of ~100 hashed files collected
        # now rather than in the middle of the next test.
        lazy.drop("diag.builtin")
        gc.collect()


async def _check(ctx):
    import hashlib
    import binascii
    try:
        from diag import builtin as b
    except ImportError:
        b = None
    me, root = _root()
    if b is not None and (not _from_file(me) or root is None):
        return _frozen(ctx, b)
    manifest = (root or "") + "MANIFEST"
    try:
        os.stat(manifest)
    except OSError:
        if b is None:
            ctx.fail("NoManifest", "running from source: no build, no integrity manifest to check against")
            return "Inconclusive"
        ctx.evidence(_identity(b))
        ctx.fail("NoManifest", "%s is missing" % manifest)
        return "Failed"
    # From here on a missing diag/builtin (b None) is one more missing file.
    buf = bytearray(_BUF)
    pace = [time.ticks_ms()]
    code = hashlib.sha256()
    checked = 0
    named = []
    bad = 0
    in_lib = 0
    tops = []  # the manifest's names directly under lib/: a few dozen short strings
    for size, rel, line in _entries(manifest):
        lib = rel.startswith("lib/")
        if lib and rel != _GEN:
            code.update(line)
        got = await _hash(root + rel, buf, pace)
        checked += 1
        if lib:
            in_lib += 1
            t = _top(rel)
            if t not in tops:
                tops.append(t)
        if got is None or got[1] != size or not line.startswith(got[0]):
            bad += 1
            if got is None and lib:
                in_lib -= 1
            if len(named) < _MAX_NAMED:
                named.append(("missing " if got is None else "changed ") + rel)
    # Extra files: counted first; only when there are some is each looked up in the
    # manifest again (a second pass instead of a set of every path in RAM).
    present = 0
    for rel in _walk(root, "lib"):
        if _top(rel) in tops:
            present += 1
    extra = 0
    if present > in_lib:
        for rel in _walk(root, "lib"):
            if _top(rel) in tops and not _listed(manifest, rel):
                extra += 1
                if len(named) < _MAX_NAMED:
                    named.append("extra " + rel)
            if _due(pace):
                await asyncio.sleep_ms(0)
    same_build = b is None or binascii.hexlify(code.digest()).decode() == b.CODE
    if b is not None:
        ctx.evidence(_identity(b))
    if not same_build:
        bad += 1
        named.insert(0, "the manifest is not this build's (code hash differs from diag/builtin)")
    fails = bad + (0 if ctx.p["allowExtra"] else extra)
    ctx.measure("filesChecked", checked)
    ctx.measure("mismatches", bad + extra, None, "= 0", not (bad + extra))
    ctx.measure("integrityVerified", 0 if fails else 1, None, "= 1", not fails)
    if named:
        more = bad + extra - len(named)
        ctx.evidence(", ".join(named) + (" and %d more" % more if more > 0 else ""))
    if fails:
        ctx.fail("Mismatch", "%d of %d files differ from the manifest, %d extra" % (bad, checked, extra))
        return "Failed"
    return "Passed"
