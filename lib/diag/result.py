# A test result as it is journaled and sent (DiagnosticResultType), and its
# checksum: SHA-256 over the canonical JSON of the result without `checksum`
# (keys sorted, no whitespace), which a CSMS or auditor recomputes with
#   json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
import json

_EVIDENCE_MAX = 1000


def canonical(x):
    t = type(x)
    if t is dict:
        return "{" + ",".join(json.dumps(k) + ":" + canonical(x[k]) for k in sorted(x)) + "}"
    if t is list or t is tuple:
        return "[" + ",".join(canonical(v) for v in x) + "]"
    return json.dumps(x)


def checksum(r):
    import hashlib
    import binascii
    body = {k: r[k] for k in r if k != "checksum"}
    return binascii.hexlify(hashlib.sha256(canonical(body).encode()).digest()).decode()


def number(v):
    # Measurements keep at most 3 decimals so that both ends print them alike.
    if type(v) is float:
        v = round(v, 3)
        if v == int(v) and abs(v) < 1e15:
            return int(v)
    return v


def make(rid, tid, ttype, requestor, trigger, params, start, end, verdict, ctx, request_id=None):
    r = {"resultId": rid, "testId": tid, "testType": ttype, "requestor": requestor,
         "trigger": trigger, "startTime": start, "endTime": end, "verdict": verdict}
    if request_id is not None:
        r["requestId"] = request_id
    if params:
        from diag.params import as_list
        r["parameter"] = as_list(params)
    if ctx is not None:
        if ctx.meas:
            r["measurement"] = ctx.meas
        if ctx.ev:
            r["evidence"] = "; ".join(ctx.ev)[:_EVIDENCE_MAX]
        if ctx.health:
            r["healthStatus"] = ctx.health
        if ctx.reason:
            r["statusInfo"] = {"reasonCode": ctx.reason[0][:20], "additionalInfo": ctx.reason[1][:1024]}
    r["checksum"] = checksum(r)
    return r


class Ctx:
    """What a running test sees: its parameters, the agent, and where to put
    measurements and evidence."""

    def __init__(self, agent, params):
        self.agent = agent
        self.p = params
        self.meas = []
        self.ev = []
        self.health = None
        self.reason = None  # (reasonCode, additionalInfo) for Error/Failed/Skipped

    def measure(self, name, value, unit=None, limit=None, ok=None):
        m = {"name": name, "value": number(value)}
        if unit:
            m["unit"] = unit
        if limit is not None:
            m["limit"] = limit
        if ok is not None:
            m["withinLimit"] = ok
        self.meas.append(m)
        return ok

    def evidence(self, text):
        self.ev.append(text)

    def fail(self, code, info):
        self.reason = (code, info)
