# NotifyReport in parts: a report is never built whole in RAM. Items are produced
# one variable at a time and sent `PART` at a time, each part awaiting its
# CALLRESULT before the next is built (GetBaseReport / GetReport, OCPP 2.1 B07/B08).
import clock
import log
from model.devmodel import dtype_name, monitorable, mut_name, var_ocpp, writable


def item(dm, comp, v, value_size=1000):
    mut = v[3]
    attr = {"type": "Actual", "mutability": mut_name(mut)}
    if mut != "W":  # write-only values (passwords) are never reported
        attr["value"] = dm.value(comp, v)[:value_size]
    if "c" in v[8]:
        attr["constant"] = True
    if writable(v):
        attr["persistent"] = True
    t = v[2]
    ch = {"dataType": "string" if t == "p" else dtype_name(t), "supportsMonitoring": monitorable(v)}
    if v[4]:
        ch["unit"] = v[4]
    if t in "id":
        if v[5]:
            ch["minLimit"] = float(v[5]) if t == "d" else int(v[5])
        if v[6]:
            ch["maxLimit"] = float(v[6]) if t == "d" else int(v[6])
    if v[7]:
        ch["valuesList"] = v[7].replace(";", ",")
    return {"component": comp.to_ocpp(), "variable": var_ocpp(v),
            "variableAttribute": [attr], "variableCharacteristics": ch}


def count(dm, select):
    n = 0
    for comp in dm.comps:
        for v in comp.vars():
            if select(comp, v):
                n += 1
    return n


_QUEUE = 3  # reports accepted and not yet sent: one running, two waiting


def busy(agent):
    """The GetBaseReport/GetReport refusal when enough reports are queued, else None."""
    if agent.reporting >= _QUEUE:
        return {"status": "Rejected", "statusInfo": {"reasonCode": "Busy"}}
    return None


def accept(agent, request_id, select):
    """The response to a report request, and the task that sends the report."""
    if not count(agent.dm, select):
        return {"status": "EmptyResultSet"}
    agent.reporting += 1
    return {"status": "Accepted"}, send(agent, request_id, select)


async def send(agent, request_id, select):
    """Stream every selected variable as NotifyReport parts. Reports requested
    while one is running wait for it (agent.reporting counts them).
    -> the number of parts sent, or None when the report was aborted."""
    async with agent.report_lock:
        try:
            return await _send(agent, request_id, select)
        finally:
            agent.reporting -= 1


async def _send(agent, request_id, select):
    dm = agent.dm
    per = agent.cfg["reportItemsPerPart"]
    size = dm.get_int("DeviceDataCtrlr", "ReportingValueSize", None, 1000)
    it = _selected(dm, select)
    nxt = [next(it, None)]  # the next variable to report: None when all are sent
    seq = 0

    def items():
        # One part's items, each made as the part goes out (rpc streams them).
        n = 0
        while nxt[0] is not None and n < per:
            comp, v = nxt[0]
            try:
                x = item(dm, comp, v, size)
            except MemoryError:
                # Part of the message may have left: failing now costs the
                # connection, and a collection usually finds the few hundred bytes.
                import gc
                gc.collect()
                x = item(dm, comp, v, size)
            yield x
            x = None
            n += 1
            nxt[0] = next(it, None)

    def rest():
        return {"requestId": request_id, "generatedAt": clock.iso(), "seqNo": seq,
                "tbc": nxt[0] is not None}

    try:
        while nxt[0] is not None:
            await agent.rpc.call("NotifyReport", rest, items=("reportData", items()))
            seq += 1
        log.info("report %d: %d parts sent", request_id, seq)
        return seq
    except Exception as e:
        log.exc(e, "report %d aborted after %d parts" % (request_id, seq))


def _selected(dm, select):
    for comp in list(dm.comps):  # a copy: components may come and go between parts
        for v in comp.vars():
            if select(comp, v):
                yield comp, v
