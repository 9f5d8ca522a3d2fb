# A charger maker's test with a typo in its descriptor ("int" for "integer"):
# register_test refuses it naming the module and the field (test_embedding.py).
TYPE = "SelfTest"
VERSION = "1.0"
DESCRIPTION = "Insulation resistance"
PARAMS = (("minKOhm", "int", "kOhm", 0, 10000, None, 500, False, "pass limit"),)
CONSTRAINTS = (None, True, (), 10, 0, False)
MEASURES = ()
VERDICTS = ("Passed", "Failed")
OUTCOME = "Passed: insulation above the limit"


async def run(ctx):
    return "Passed"
