# GetDiagnosticsResults: past results from the journal, delivered as
# NotifyDiagnosticsResult (with reportRequestId, seqNo, tbc), read one at a time.
import clock
from diag import binding
from diag.ops.shapes import GET_RESULTS as REQ


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
        return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidRange",
                                                     "additionalInfo": "from/to must be dateTime values"}}
    j = agent.diag.journal
    most = p.get("maxResults", 1000)
    n = 0
    for r in j.records():
        if ok(r):
            n += 1
    if not n:
        return {"status": "EmptyResultSet"}
    return {"status": "Accepted"}, _send(agent, p["requestId"], ok, min(n, most), agent.diag.via)


async def _send(agent, req_id, ok, total, via):
    import log
    seq = 0
    try:
        # Ids first (small), then each result read again when it is sent: the
        # journal file is never held in RAM.
        ids = [r["resultId"] for r in agent.diag.journal.records() if ok(r)][:total]
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
