# A charger maker's test that may only run with every connector Available (no car
# plugged in, none reserved); not intrusive. host_tests/test_embedding.py.
TYPE = "SelfTest"
VERSION = "1.0"
DESCRIPTION = "Standby power of the power stage, measured with nothing plugged in"
PARAMS = ()
CONSTRAINTS = (("Available",), False, (), 10, 0, False)
MEASURES = (("standbyPower", "W", "<= 5"),)
VERDICTS = ("Passed", "Failed")
OUTCOME = "Passed: standby power at most 5 W"


async def run(ctx):
    return "Passed" if ctx.measure("standbyPower", 3.5, "W", "<= 5", True) else "Failed"
