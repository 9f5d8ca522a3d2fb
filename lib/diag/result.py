# A test result as it is journaled and sent (DiagnosticResultType), and its
# checksum: SHA-256 over the canonical JSON of the result without `checksum`
# (keys sorted, no whitespace), which a CSMS or auditor recomputes with
#   json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# A station with a signing key also signs each result (seal(), diag/sign.py).
import json

_EVIDENCE_MAX = 1000


def canonical(x):
    t = type(x)
    if t is dict:
        return "{" + ",".join(json.dumps(k) + ":" + canonical(x[k]) for k in sorted(x)) + "}"
    if t is list or t is tuple:
        return "[" + ",".join(canonical(v) for v in x) + "]"
    if t is float:
        return float_text(x)
    return json.dumps(x)


def float_text(v):
    """A float as CPython's repr writes it: the shortest text that reads back as v.
    MicroPython's own repr sometimes adds a wrong 17th digit (0.812 ->
    0.8120000000000001), while the CSMS recomputes the checksum from the value it
    parsed, and prints 0.812."""
    if v != v or v - v != 0:  # NaN, infinities: not JSON numbers at all
        return json.dumps(v)
    for p in range(17):
        s = ("%." + str(p) + "e") % v  # d.ddde+XX
        if float(s) == v:
            break
    else:
        return json.dumps(v)
    m, e = s.split("e")
    neg = m[0] == "-"
    digits = m.lstrip("-").replace(".", "").rstrip("0")
    if not digits:
        return "-0.0" if neg else "0.0"
    exp = int(e)
    point = exp + 1  # v = 0.<digits> x 10^point
    if -4 < point <= 16:
        if point <= 0:
            t = "0." + "0" * -point + digits
        elif point >= len(digits):
            t = digits + "0" * (point - len(digits)) + ".0"
        else:
            t = digits[:point] + "." + digits[point:]
    else:
        t = digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + \
            ("e-%02d" % -exp if exp < 0 else "e+%02d" % exp)
    return "-" + t if neg else t


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
    seal(r, ctx and ctx.agent)
    return r


def seal(r, agent=None):
    """The last step of every result: its signature when the station has a key
    (diag/sign.py, SPEC DG16; unsigned when none is set), then the checksum, which
    covers the signature."""
    if agent is not None and agent.store.get("dm/DiagnosticsCtrlr/ResultSigningKey"):
        from diag import sign
        key = sign.current(agent.store)
        if key:
            return sign.seal(r, key)
    r["checksum"] = checksum(r)


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
