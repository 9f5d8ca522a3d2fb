# Periodic runs: each test's DiagnosticTest.Interval (set with SetVariables or a
# StartDiagnostics schedule, persisted), and the health check on
# DiagnosticsCtrlr.HealthCheckInterval. One task, waking once a second: cheaper in
# RAM than one timer task per test.
import asyncio
import time

import clock


def interval(agent, tid):
    dm = agent.dm
    c = dm.component("DiagnosticTest", tid)
    try:
        return int(dm.value(c, c.find("Interval")))
    except (ValueError, AttributeError):
        return 0


def set_schedule(agent, tid, iv, params, start=None, evse=None):
    dm = agent.dm
    c = dm.component("DiagnosticTest", tid)
    dm.set(c, c.find("Interval"), str(iv))
    key = "diag/sched/" + tid
    if iv > 0:
        agent.store.put(key, {"p": params, "t": start, "e": evse})
    else:
        agent.store.remove(key)


async def run(agent):
    d = agent.diag
    due = {}  # testId (or "" for the health check) -> ticks_ms of the next run
    while True:
        await asyncio.sleep_ms(1000)
        if agent.dm.get("DiagnosticsCtrlr", "Enabled") != "true":
            due.clear()  # no Skipped result every period while disabled
            continue
        now = time.ticks_ms()
        for tid in d.registry.ids():
            iv = interval(agent, tid)
            if iv <= 0:
                due.pop(tid, None)
                continue
            if tid not in due:
                sched = agent.store.get("diag/sched/" + tid) or {}
                first = iv * 1000
                if sched.get("t"):
                    first = max(0, int((clock.parse(sched["t"]) - clock.now()) * 1000))
                due[tid] = time.ticks_add(now, first)
            if time.ticks_diff(now, due[tid]) >= 0:
                due[tid] = time.ticks_add(now, iv * 1000)
                sched = agent.store.get("diag/sched/" + tid) or {}
                d.start_internal(tid, sched.get("p"), "Scheduler", "Scheduled", sched.get("e"))
        hiv = agent.dm.get_int("DiagnosticsCtrlr", "HealthCheckInterval", None, 0)
        if hiv <= 0:
            due.pop("", None)
        elif "" not in due:
            due[""] = time.ticks_add(now, hiv * 1000)
        elif time.ticks_diff(now, due[""]) >= 0:
            due[""] = time.ticks_add(now, hiv * 1000)
            for tid in d.tests_of_type("HealthCheck"):
                d.start_internal(tid, None, "HealthCheck", "HealthCheck")
