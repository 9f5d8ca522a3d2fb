# A test module's SCOPE, CLASSES and COST (SPEC.md DG10, DG12, DG13) as the descriptor
# check judges them, inside MicroPython. Run by host_tests/test_mp_units.py.
from unit import raises, run

from diag import descriptor
from diag.descriptor import Bad


class M:
    TYPE = "SelfTest"
    VERSION = "1.0"
    DESCRIPTION = "Prüfung"
    PARAMS = ()
    CONSTRAINTS = (None, False, (), 10, 0, False)
    MEASURES = (("freeHeap", "B", None), ("largestBlock", "B", None))
    VERDICTS = ("Passed",)
    OUTCOME = "Passed"

    @staticmethod
    async def run(ctx):
        return "Passed"


def mod(**kw):
    class X(M):
        pass
    for k, v in kw.items():
        setattr(X, k, v)
    return X


def test_without_the_new_attributes_a_module_is_a_station_wide_test():
    descriptor.check(mod())


def test_scope():
    for s in ("station", "evse", "connector"):
        descriptor.check(mod(SCOPE=s))
    assert "SCOPE" in str(raises(Bad, descriptor.check, mod(SCOPE="building")))


def test_a_class_needs_its_measurements_with_their_units():
    descriptor.check(mod(CLASSES=("MemoryHeadroom",)))
    e = raises(Bad, descriptor.check, mod(CLASSES=("MemoryHeadroom",), MEASURES=(("freeHeap", "B", None),)))
    assert "largestBlock" in str(e)
    e = raises(Bad, descriptor.check, mod(CLASSES=("MemoryHeadroom",),
                                          MEASURES=(("freeHeap", "kB", None), ("largestBlock", "B", None))))
    assert "freeHeap in B" in str(e)
    # A class with no fixed unit accepts any.
    descriptor.check(mod(CLASSES=("MeterReachability",), MEASURES=(("responseTime", "ms", None), ("value", "V", None))))


def test_unknown_and_vendor_classes():
    assert "not a well-known class" in str(raises(Bad, descriptor.check, mod(CLASSES=("MemoryHedroom",))))
    descriptor.check(mod(CLASSES=("com.example.Isolation",)))
    raises(Bad, descriptor.check, mod(CLASSES=["MemoryHeadroom"]))  # a tuple, as everywhere
    raises(Bad, descriptor.check, mod(CLASSES=("x" * 51,)))


def test_cost():
    descriptor.check(mod(COST=(0, 1, 4096, "None")))
    for bad in ((1, 1, 4096), (1.5, 0, 0, "None"), (1, -1, 0, "None"), (1, 0, 0, "Internet"), [1, 0, 0, "None"]):
        assert "COST" in str(raises(Bad, descriptor.check, mod(COST=bad))), bad


def test_every_reference_test_declares_honest_planning():
    import lazy
    for tid in ("memory", "flash", "meter", "csms", "dns", "ntp", "health"):
        m = lazy.load("diag.tests." + tid)
        descriptor.check(m)
        assert m.SCOPE == "station" and len(m.COST) == 4
        lazy.drop("diag.tests." + tid)


run(globals())
