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
MEASURES = (("filesChecked", None, None), ("mismatches", None, "= 0"))
VERDICTS = ("Passed", "Failed", "Inconclusive", "Error")
OUTCOME = ("Passed: every file the manifest lists is there, unchanged, and lib/ holds no other; "
           "Inconclusive when the agent runs from source (no manifest)")

_BUF = const(512)
_YIELD_EVERY = const(8)  # chunks hashed between two yields to the loop
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


async def _hash(path, size, buf):
    """-> hex SHA-256 of the file, or None when it is missing, or its size is not
    `size` (no need to read it then)."""
    import hashlib
    import binascii
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st[6] != size:
        return ""
    h = hashlib.sha256()
    mv = memoryview(buf)
    k = 0
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(mv[:n])
            k += 1
            if k % _YIELD_EVERY == 0:
                await asyncio.sleep_ms(0)
    return binascii.hexlify(h.digest()).decode()


def _entries(path):
    """Yields (sha, size, relpath) of each manifest line; comments skipped."""
    with open(path) as f:
        for line in f:
            if not line or line[0] == "#":
                continue
            parts = line.rstrip().split(" ", 2)
            if len(parts) == 3:
                yield parts[0], int(parts[1]), parts[2], line


def _listed(manifest, rel):
    for _, _, r, _ in _entries(manifest):
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


def _frozen(ctx, b):
    # Frozen code is part of the firmware image (its integrity is the bootloader's);
    # what can go wrong here is a file on the filesystem shadowing a frozen module.
    bad = []
    for name in sys.modules:
        top = name.split(".", 1)[0]
        if top in _OURS:
            f = getattr(sys.modules[name], "__file__", None)
            if f and not f.startswith(".frozen"):
                bad.append("%s from %s" % (name, f))
    ctx.evidence(_identity(b))
    ctx.measure("filesChecked", 0)
    ctx.measure("mismatches", len(bad), None, "= 0", not bad)
    if bad:
        ctx.evidence("frozen modules shadowed by files: " + ", ".join(bad[:_MAX_NAMED]))
        ctx.fail("Shadowed", "%d agent modules load from files, not the frozen firmware" % len(bad))
        return "Failed"
    return "Passed"


async def run(ctx):
    import hashlib
    import binascii
    try:
        from diag import builtin as b
    except ImportError:
        b = None
    me, root = _root()
    if b is not None and (me.startswith(".frozen") or root is None):
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
    code = hashlib.sha256()
    checked = 0
    named = []
    bad = 0
    in_lib = 0
    tops = []  # the manifest's names directly under lib/: a few dozen short strings
    for sha, size, rel, line in _entries(manifest):
        if rel != _GEN and rel.startswith("lib/"):
            code.update((line.rstrip() + "\n").encode())
        got = await _hash(root + rel, size, buf)
        checked += 1
        if rel.startswith("lib/"):
            in_lib += 1
            t = _top(rel)
            if t not in tops:
                tops.append(t)
        if got != sha:
            bad += 1
            if got is None and rel.startswith("lib/"):
                in_lib -= 1
            if len(named) < _MAX_NAMED:
                named.append(("missing " if got is None else "changed ") + rel)
        await asyncio.sleep_ms(0)
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
    if named:
        more = bad + extra - len(named)
        ctx.evidence(", ".join(named) + (" and %d more" % more if more > 0 else ""))
    if fails:
        ctx.fail("Mismatch", "%d of %d files differ from the manifest, %d extra" % (bad, checked, extra))
        return "Failed"
    return "Passed"
