# A charger maker's own test, kept with the firmware (outside lib/) and offered with
# charger.register_test (host_tests/test_embedding.py). Intrusive: it opens the
# contactor, so it must never run during a session or with a car plugged in.
import asyncio

TYPE = "SelfTest"
VERSION = "1.0"
DESCRIPTION = "Contactor opens and closes on command (the charger's own test)"
PARAMS = (("holdMs", "integer", "ms", 0, 10000, None, 0, False, "how long the contactor stays open"),)
CONSTRAINTS = (None, True, ("contactor",), 20, 0, False)
MEASURES = (("openTime", "ms", "<= 100"),)
VERDICTS = ("Passed", "Failed", "Error")
OUTCOME = "Passed: the contactor opened within 100 ms and closed again"


async def run(ctx):
    # A real firmware would drive its relay here; this stand-in holds it "open".
    await asyncio.sleep_ms(ctx.p["holdMs"])
    ctx.evidence("energy transfer allowed while open: %s" % ctx.agent.charger.may_charge())
    ok = ctx.measure("openTime", 12, "ms", "<= 100", True)
    return "Passed" if ok else "Failed"
