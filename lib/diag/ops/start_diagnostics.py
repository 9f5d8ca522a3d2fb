# StartDiagnostics: parameters and constraints are checked before anything starts;
# a refusal names the test and parameter. With a schedule the tests are scheduled
# (DiagnosticTest.Interval) instead of run now.
from diag.ops.shapes import START as REQ
from diag.params import Refused, rejected


def handle(agent, p):
    d = agent.diag
    r = d.runner
    try:
        if "schedule" in p:
            return _schedule(agent, p)
        coro = r.start(p["requestId"], p.get("requestor") or "CSMS", "OnDemand", p["test"],
                       p.get("stopOnFailure", False), d.via)
    except Refused as e:
        from diag.runner import Busy
        return rejected(e.code, e.info, "Busy" if isinstance(e, Busy) else "Rejected")
    return {"status": "Accepted"}, coro


def _schedule(agent, p):
    from diag import scheduler
    import clock
    s = p["schedule"]
    if s["interval"] > 31536000:  # DiagnosticTest.Interval's maxLimit (a year)
        raise Refused("OutOfRange", "schedule.interval over 31536000 s")
    plan = agent.diag.runner.plan(p["test"])  # validates; raises Refused
    start = s.get("startTime")
    if start is not None:
        try:
            clock.parse(start)
        except (ValueError, IndexError):
            raise Refused("InvalidSchedule", "schedule.startTime is not a dateTime")
    from diag.params import as_list
    if s["interval"]:
        # A scheduled run has no accountable requestor (DG14).
        agent.diag.runner.authorize(plan, "Scheduler", "Scheduled")
    for tid, vals, evse in plan:
        scheduler.set_schedule(agent, tid, s["interval"], as_list(vals) or None, start, evse)
    return {"status": "Accepted"}
