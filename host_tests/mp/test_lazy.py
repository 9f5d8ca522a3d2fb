# Modules imported on use and dropped after it, run inside MicroPython.
import sys

from unit import TMP, run

import lazy
from diag.registry import Registry
from store import Store
from fakes import make


def test_drop_forgets_the_module_everywhere():
    import diag.tests
    m = lazy.load("diag.tests.memory")
    assert lazy.load("diag.tests.memory") is m
    assert diag.tests.memory is m
    lazy.drop("diag.tests.memory")
    assert "diag.tests.memory" not in sys.modules
    # The package attribute would keep the module (and its RAM) alive.
    assert not hasattr(diag.tests, "memory")
    assert lazy.load("diag.tests.memory") is not m
    lazy.drop("diag.tests.memory")
    lazy.drop("diag.tests.memory")  # dropping twice is harmless


def test_registry_keeps_only_health_checks_loaded():
    import diag.tests
    reg = Registry(Store(TMP + "/mp_unit_lazy"), ["health", "memory"])
    for tid in ("health", "memory"):
        reg.load(tid)
        reg.unload(tid)
    assert "diag.tests.health" in sys.modules
    assert "diag.tests.memory" not in sys.modules and not hasattr(diag.tests, "memory")
    # A test that is running stays loaded until its last run ends.
    reg.load("memory")
    reg.busy["memory"] = 1
    reg.unload("memory")
    assert "diag.tests.memory" in sys.modules
    reg.busy["memory"] = 0
    reg.unload("memory")
    assert "diag.tests.memory" not in sys.modules


async def test_rpc_keeps_one_handler_module():
    import fixture_ops
    r, ws = make()
    r.on("Ping", "fixture_ops.ping")
    r.on("Pong", "fixture_ops.pong")
    for i, action in enumerate(("Ping", "Ping", "Pong", "Ping")):
        await r.dispatch('[2,"%d","%s",{}]' % (i, action))
        if action == "Pong":  # its import brought its shapes module in
            assert "fixture_ops.shape" in sys.modules
    assert [m[0] for m in ws.sent] == [3, 3, 3, 3], ws.sent
    # A burst of one action imports once; switching drops the previous handler, and
    # what its import brought in with it.
    assert fixture_ops.IMPORTS == ["ping", "pong", "ping"], fixture_ops.IMPORTS
    assert "fixture_ops.pong" not in sys.modules and not hasattr(fixture_ops, "pong")
    assert "fixture_ops.shape" not in sys.modules


def test_since_names_what_came_in_but_asyncio():
    lazy.drop("fixture_ops.shape")
    lazy.drop("asyncio.funcs")
    before = set(sys.modules)
    import asyncio
    asyncio.wait_for  # its parts load on first use: the runtime's, never listed
    import fixture_ops.shape
    assert "asyncio.funcs" in sys.modules
    assert lazy.since(before) == ["fixture_ops.shape"], lazy.since(before)
    lazy.drop("fixture_ops.shape")


run(globals())
