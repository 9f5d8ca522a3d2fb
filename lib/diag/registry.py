# The tests a station offers. Each test is one module in diag/tests/; its file name
# is its testId. Modules are imported only to describe or run a test and dropped
# again afterwards, so the catalog costs RAM for one test at a time.
import os
import sys

import lazy
import log

_PKG = "diag.tests."
# What a descriptor is built from (descriptor()), hashed for the catalog version.
_DECLARED = ("TYPE", "VERSION", "DESCRIPTION", "SCOPE", "PARAMS", "CONSTRAINTS", "MEASURES", "VERDICTS",
             "OUTCOME", "CLASSES", "COST")


def _listing():
    # Filesystem or ROMFS deploys: list the package directory on sys.path.
    names = []
    for base in sys.path:
        try:
            entries = os.listdir((base or ".") + "/diag/tests")
        except OSError:
            continue
        for n in entries:
            if n.startswith("_"):
                continue
            if n.endswith(".py"):
                n = n[:-3]
            elif n.endswith(".mpy"):
                n = n[:-4]
            else:
                continue
            if n not in names:
                names.append(n)
    return names


def _builtin():
    # A build (tools/build.py) writes the tests it ships to diag/builtin.py: the
    # charger maker's choice, and the only list a frozen firmware has. Running from
    # source there is none, and the package directory is listed instead.
    try:
        from diag import builtin
    except ImportError:
        return None
    t = builtin.TESTS
    lazy.drop("diag.builtin")
    return t


class Registry:
    def __init__(self, store, only=None):
        """only: explicit test ids (config "diagTests"); else the build's list
        (diag/builtin.py), else every module in diag/tests/ (running from source).
        The index (testId, type) is kept in the store, so that a start does not
        import every test module: rebuilt only when the set of modules changes.
        A module whose descriptor does not check is left out (self.bad), logged,
        and shown in its DiagnosticTest component; the others stay available."""
        self.busy = {}  # testId -> number of runs holding the module
        self.extra = {}  # testId -> module registered by the charger's firmware (charger.py)
        self.index = []  # [(testId, testType)], sorted by id
        self.bad = []  # [(testId, reason)]
        self._version = None  # catalogVersion, computed on first use
        ids = sorted(only or _builtin() or _listing())
        if not ids:
            log.warn("diag: no tests found; frozen firmware must list them in diagTests")
        try:
            cached = store.get("diag/index")
            if cached and [x[0] for x in cached] == ids:
                for x in cached:
                    if len(x) == 2:
                        self.index.append((x[0], x[1]))
                    else:
                        self.bad.append((x[0], x[2]))
                        log.warn("diag: test module %s left out: %s", x[0], x[2])
                return
        except Exception:  # a cache of another shape: rebuild it
            self.index = []
            self.bad = []
        from diag import descriptor
        for tid in ids:
            try:
                m = self.load(tid)
                descriptor.check(m)
                self.index.append((tid, m.TYPE))
            except Exception as e:  # descriptor.Bad, or a module that does not even import
                reason = str(e) if isinstance(e, descriptor.Bad) else "%s: %s" % (type(e).__name__, e)
                log.warn("diag: test module %s left out: %s", tid, reason)
                self.bad.append((tid, reason[:200]))
            finally:
                m = None
                self.unload(tid)
        lazy.drop("diag.descriptor")
        store.put("diag/index", [list(x) for x in self.index] + [[t, None, r] for t, r in self.bad])

    def add(self, tid, m):
        """A test module from outside lib/diag/tests/ (charger.register_test):
        checked like a built-in one. Returns None, or why it is left out."""
        if type(tid) is not str or not 0 < len(tid) <= 50 or "," in tid or " " in tid:
            return "test id %r must be 1..50 characters without ',' or ' '" % (tid,)
        if tid in ("HealthCheck", "SelfTest"):
            return "test id %s is reserved (a CustomTrigger keyword)" % tid
        if self.type_of(tid) is not None or tid in [t for t, _ in self.bad]:
            return "test id %s is already offered" % tid
        from diag import descriptor
        try:
            descriptor.check(m)
        except descriptor.Bad as e:
            reason = str(e)[:200]
            log.warn("diag: test module %s left out: %s", tid, reason)
            self.bad.append((tid, reason))
            return reason
        finally:
            lazy.drop("diag.descriptor")
        self.extra[tid] = m
        self.index.append((tid, m.TYPE))
        self.index.sort()
        return None

    def ids(self):
        return [t for t, _ in self.index]

    def type_of(self, tid):
        for t, ty in self.index:
            if t == tid:
                return ty
        return None

    def load(self, tid):
        return self.extra.get(tid) or lazy.load(_PKG + tid)

    def unload(self, tid):
        # Health checks run on an interval: they stay loaded, the rest is dropped.
        # Registered modules belong to the firmware that holds them.
        if not self.busy.get(tid) and self.type_of(tid) != "HealthCheck" and tid not in self.extra:
            lazy.drop(_PKG + tid)

    def descriptor(self, tid):
        """DiagnosticTestDescriptorType, built on demand."""
        from diag.params import describe
        m = self.load(tid)
        try:
            states, intrusive, resources, timeout, min_iv, network = m.CONSTRAINTS
            c = {"intrusive": intrusive, "timeout": timeout, "minInterval": min_iv, "needsNetwork": network}
            if states:
                c["allowedStates"] = list(states)
            if resources:
                c["exclusiveResources"] = list(resources)
            out = {"verdicts": list(m.VERDICTS), "description": m.OUTCOME}
            if m.MEASURES:
                ms = []
                for name, unit, limit in m.MEASURES:
                    d = {"name": name}
                    if unit:
                        d["unit"] = unit
                    if limit:
                        d["limit"] = limit
                    ms.append(d)
                out["measurement"] = ms
            d = {"testId": tid, "testType": m.TYPE, "version": m.VERSION,
                 "description": m.DESCRIPTION, "scope": getattr(m, "SCOPE", "station"),
                 "constraints": c, "expectedOutcome": out}
            if m.PARAMS:
                d["parameter"] = [describe(p) for p in m.PARAMS]
            classes = getattr(m, "CLASSES", ())
            if classes:
                d["testClass"] = list(classes)
            cost = getattr(m, "COST", None)
            if cost:
                d["planning"] = {"expectedDuration": cost[0], "flashWrites": cost[1],
                                 "flashBytes": cost[2], "network": cost[3]}
            return d
        finally:
            self.unload(tid)

    def version(self):
        """catalogVersion: 16 hex digits of a SHA-256 over every test's descriptor
        declaration, in testId order. Streamed a tuple entry at a time: no descriptor
        (a 4 KB object for the meter test) and no catalog is built for it.
        Computed once per boot (descriptors change only with the firmware or the
        files, i.e. across a restart), never cached on flash: a cache keyed on the
        set of test ids would miss a module whose descriptor changed. Normally ready
        from start-up (compute()); computed here, at once, only if asked before."""
        if self._version is None:
            for _ in self._hash():
                pass
        return self._version

    async def compute(self):
        # One module per step with the event loop in between.
        import asyncio
        for _ in self._hash():
            await asyncio.sleep_ms(0)

    def _hash(self):
        import binascii
        import hashlib
        # The descriptor's form: change it whenever descriptor() builds something else
        # from the same declarations.
        h = hashlib.sha256(b"diag-catalog-1")
        for tid, _ in self.index:
            m = self.load(tid)
            try:
                h.update("\n" + tid)
                for a in _DECLARED:
                    v = getattr(m, a, None)
                    if type(v) is tuple:
                        for x in v:
                            h.update(repr(x))
                            h.update(",")
                    else:
                        h.update(repr(v))
                    h.update(";")
            finally:
                m = None
                self.unload(tid)
            yield
        self._version = binascii.hexlify(h.digest()[:8]).decode()
