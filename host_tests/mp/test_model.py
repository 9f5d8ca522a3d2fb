# Device model, store and clock, run inside MicroPython.
import os

from unit import TMP, remove_dir, run

import clock
from model.devmodel import Component, DeviceModel, validate
from store import Store

_T = """
Num||i|RW|s|1|10|||5
Flag||b|RW||||||false
Opt||o|RW||||A;B||A
Mem||m|RW||||A;B;C||A,B
Pw||p|W||||||
Ro||s|R|||||c|fixed
Inst|One|s|RW|||8|||x"""

_DIR = TMP + "/mp_unit_store"


def _clean():
    remove_dir(_DIR)


def _dm():
    dm = DeviceModel(Store(_DIR))
    c = dm.add(Component("TestCtrlr", _T))
    return dm, c


def test_table_lines_parse():
    _clean()
    dm, c = _dm()
    names = [v[0] for v in c.vars()]
    assert names == ["Num", "Flag", "Opt", "Mem", "Pw", "Ro", "Inst"]
    assert all(len(v) == 10 for v in c.vars())
    assert c.find("Inst", "One")[0] == "Inst" and c.find("Inst") is None
    assert dm.value(c, c.find("Num")) == "5"


def test_component_tables_are_well_formed():
    from model import standard
    from diag import components
    n = 0
    for mod in (standard, components):
        for name in dir(mod):
            t = getattr(mod, name)
            if name.startswith("_") and type(t) is str and "|" in t:
                for v in Component("X", t).vars():
                    assert len(v) == 10, (name, v)
                    assert v[2] in "sditboqmp" and v[3] in ("R", "W", "RW"), (name, v)
                    n += 1
    assert n > 60, n


def test_validation_reasons():
    dm, c = _dm()
    f = c.find
    assert validate(f("Num"), "7") is None
    assert validate(f("Num"), "11") == "ValueOutOfRange"
    assert validate(f("Num"), "x") == "InvalidValue"
    assert validate(f("Flag"), "yes") == "InvalidValue"
    assert validate(f("Opt"), "C") == "ValueNotInList"
    assert validate(f("Mem"), "A,C") is None and validate(f("Mem"), "A,D") == "ValueNotInList"
    assert validate(f("Pw"), "short") == "InvalidValue"
    assert validate(f("Inst", "One"), "123456789") == "ValueTooLarge"
    assert dm.set(c, f("Ro"), "x") == ("Rejected", "ReadOnly")


def test_writes_persist_and_survive_a_torn_write():
    _clean()
    dm, c = _dm()
    assert dm.set(c, c.find("Num"), "9") == ("Accepted", None)
    # A new store (a reboot) sees the value.
    dm2, c2 = _dm()
    assert dm2.value(c2, c2.find("Num")) == "9"
    # Power cut mid-write: a half-written .tmp beside the good file is ignored.
    with open(_DIR + "/state.json.tmp", "w") as f:
        f.write('{"dm/TestCtrlr/Num": "1')
    dm3, c3 = _dm()
    assert dm3.value(c3, c3.find("Num")) == "9"
    # Corrupt main file: defaults, no crash.
    with open(_DIR + "/state.json", "w") as f:
        f.write("{garbage")
    os.remove(_DIR + "/state.json.tmp")
    dm4, c4 = _dm()
    assert dm4.value(c4, c4.find("Num")) == "5"
    _clean()


def test_makedirs_tolerates_a_directory_made_meanwhile():
    # Two stations started in one working directory both make state/: the other
    # process may create it between our stat and our mkdir.
    import store
    _clean()
    real = store._exists
    os.mkdir(_DIR)
    lied = []

    def racing(p):  # "not there" once, as if looked before the other process made it
        if p == _DIR and not lied:
            lied.append(p)
            return False
        return real(p)
    store._exists = racing
    try:
        store.makedirs(_DIR)
    finally:
        store._exists = real
    assert lied == [_DIR]
    _clean()


def test_clock_parse_and_format():
    t = clock.parse("2026-11-25T10:20:30Z")
    assert clock.iso(t) == "2026-11-25T10:20:30Z"
    assert clock.parse("2026-11-25T10:20:30.123Z") == t
    assert clock.parse("2026-11-25T12:20:30+02:00") == t
    assert clock.parse("2026-11-25T08:20:30-02:00") == t
    assert clock.set_iso("garbage") is None


def test_clock_keeps_ms_and_the_last_adoption():
    t = clock.parse("2026-11-25T10:20:30Z") * 1000
    assert clock.parse_ms("2026-11-25T10:20:30.5Z") == t + 500
    assert clock.parse_ms("2026-11-25T10:20:30.123456+00:00") == t + 123
    assert clock.parse_ms("2026-11-25T10:20:30Z") == t
    clock.set_iso("2026-11-25T10:20:30.250Z")
    first = clock.adopted
    assert first[2] is None and abs(clock.now_ms() - (t + 250)) < 50
    assert clock.iso() == "2026-11-25T10:20:30Z"
    # A second adoption 2 s ahead of the station's clock: a +2000 ms correction.
    clock.set_iso(clock.iso(clock.now() + 2)[:19] + ".%03dZ" % (clock.now_ms() % 1000))
    local, corr, since = clock.adopted
    assert 1900 < corr < 2100 and since == local - first[0] and 0 <= since < 1000, clock.adopted


run(globals())
