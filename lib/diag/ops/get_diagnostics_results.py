# GetDiagnosticsResults: past results from the journal, delivered as
# NotifyDiagnosticsResult (with reportRequestId, seqNo, tbc), read one at a time.
import clock
from diag import binding
from diag.ops.shapes import GET_RESULTS as REQ

FOLLOWS = 1  # answered in follow-up messages: bounded under floods (rpc)


def _filter(p):
    ids = p.get("testId")
    lo = clock.parse(p["from"]) if p.get("from") else None
    hi = clock.parse(p["to"]) if p.get("to") else None
    first = p.get("resultIdFrom", 0)

    def ok(r):
        if r["resultId"] < first or (ids and r["testId"] not in ids):
            return False
        if lo is not None or hi is not None:
            t = clock.parse(r["endTime"])
            if (lo is not None and t < lo) or (hi is not None and t > hi):
                return False
        return True
    return ok


def handle(agent, p):
    try:
        ok = _filter(p)
    except (ValueError, IndexError):
        from diag.params import rejected
        return rejected("InvalidRange", "from/to must be dateTime values")
    # Ids only (small, the journal is bounded); each result is read again when it is
    # sent, so the journal file is never held in RAM.
    # maxResults has no upper bound in the schema; the journal holds a few hundred.
    ids = [r["resultId"] for r in agent.diag.journal.records() if ok(r)][:min(p.get("maxResults", 1000), 1000)]
    if not ids:
        return {"status": "EmptyResultSet"}
    return {"status": "Accepted"}, _send(agent, p["requestId"], ids, agent.diag.via)


async def _send(agent, req_id, ids, via):
    async with agent.report_lock:  # one stream of parts at a time (see the catalog)
        await _parts(agent, req_id, ids, via)


async def _parts(agent, req_id, ids, via):
    import log
    seq = 0
    try:
        for rid in ids:
            r = agent.diag.journal.get(rid)
            if r is None:
                continue
            await binding.notify(agent, "NotifyDiagnosticsResult", {
                "result": r, "reportRequestId": req_id, "seqNo": seq,
                "tbc": seq + 1 < len(ids)}, via)
            seq += 1
    except Exception as e:
        log.exc(e, "diag: results report %d aborted after %d" % (req_id, seq))
