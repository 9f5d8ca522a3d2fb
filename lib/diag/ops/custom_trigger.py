# TriggerMessage CustomTrigger (OCPP 2.1): "HealthCheck" runs the health check,
# "SelfTest" every self test, a testId that test. Parameter values may ride in the
# request's customData under our vendorId and are checked exactly as for
# StartDiagnostics: this is what plain OCPP 2.1 triggers lack. The request's `evse`
# aims a test that runs per EVSE or connector (DG10), as StartDiagnostics' does.
from diag.params import Refused, rejected
from ocpp.check import ARR, Invalid, OBJ, check


def handle(agent, p):
    d = agent.diag
    name = p.get("customTrigger")
    if name == "HealthCheck":
        ids = d.tests_of_type("HealthCheck")
    elif name == "SelfTest":
        ids = d.tests_of_type("SelfTest")
    elif name and d.registry.type_of(name):
        ids = [name]
    else:
        return {"status": "NotImplemented"}
    params = None
    cd = p.get("customData")
    if cd and cd.get("vendorId") == d.vendor_id and "parameter" in cd:
        from diag.ops.shapes import PARAM_VALUE
        try:
            check({"parameter": cd["parameter"]}, (("parameter", ARR | OBJ, PARAM_VALUE),))
        except Invalid as e:
            return rejected("InvalidParameter", str(e))
        if len(ids) != 1:
            return rejected("AmbiguousParameters", "parameters need a trigger naming one test")
        params = cd["parameter"]
    evse = p.get("evse")
    if evse is not None and name in ("HealthCheck", "SelfTest"):
        return rejected("AmbiguousTarget", "an evse needs a trigger naming one test, not %s" % name)
    tests = [{"testId": t, "parameter": params, "evse": evse} for t in ids]
    if len(ids) == 1:
        try:
            # Refuse bad parameters, a missing target, an intrusive test now, naming them.
            d.runner.authorize(d.runner.plan(tests), "CSMS", "CustomTrigger")
        except Refused as e:
            return rejected(e.code, e.info)
    # A group ("SelfTest"): a test that cannot run with its defaults is journaled
    # as Skipped with the reason, the others run.
    return {"status": "Accepted"}, _run(agent, tests)


async def _run(agent, tests):
    d = agent.diag
    for t in tests:
        task = d.start_internal(t["testId"], t["parameter"], "CSMS", "CustomTrigger", t["evse"])
        if task is not None:
            await task
