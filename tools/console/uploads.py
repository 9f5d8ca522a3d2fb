"""The console's side of GetLog (SPEC DG09): a station's results journal uploaded
to the console itself.

GetLog names an upload URL that carries a ticket (POST /api/uploads/{ticket}); the
ticket is the credential, issued for one station and one requestId, valid for TTL
seconds.  An upload is accepted only with a live ticket AND a file name that names
the ticket's station (the agent's `diagnostics-<stationId>-<time>.ndjson`): another
station, or anyone who did not get the URL from the console, is refused (403).
Each line is checked against the result schema and its checksum; results the console
does not hold yet are stored (unattached to a run), so a result whose notification
was lost is recovered.  The state of each request (station status, upload summary)
is kept in this process (a request lives minutes; one console process holds it).
"""
import hashlib
import json
import re
import secrets
import time

TTL = 900.0
_MAX = 200            # outstanding requests: a client asking in a loop cannot grow memory
_MAX_BYTES = 8 << 20  # an upload over this is refused (413)
_MAX_LINES = 5000


def safe_name(sid):
    # lib/diag/ops/get_log.py: characters other than A-Z a-z 0-9 . _ - become "_"
    return re.sub(r"[^A-Za-z0-9._-]", "_", sid)


class Uploads:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._by_ticket = {}   # ticket -> (sid, requestId)
        self._req = {}         # (sid, requestId) -> state dict

    def issue(self, sid, request_id, by):
        self._prune()
        while len(self._req) >= _MAX:
            self._forget(next(iter(self._req)))
        ticket = "up_" + secrets.token_urlsafe(24)
        self._by_ticket[ticket] = (sid, request_id)
        self._req[(sid, request_id)] = {"station": sid, "requestId": request_id, "by": by,
                                        "status": "Requested", "statusInfo": None,
                                        "upload": None, "expires": self._clock() + TTL,
                                        "ticket": ticket}
        return ticket

    def state(self, sid, request_id):
        s = self._req.get((sid, request_id))
        return None if s is None else {k: v for k, v in s.items()
                                       if k not in ("ticket", "expires")}

    def rejected(self, sid, request_id, status, info):
        self.status(sid, request_id, status, info)
        s = self._req.get((sid, request_id))
        if s is not None:
            self._by_ticket.pop(s["ticket"], None)

    def status(self, sid, request_id, status, info=None):
        """A LogStatusNotification (its status checked by the OCPP schema), or GetLog's
        refusal: only for a request made of this station."""
        s = self._req.get((sid, request_id))
        if s is not None:
            s["status"], s["statusInfo"] = status, info

    def take(self, ticket, filename):
        """-> (sid, requestId) the upload is for, or None (refused)."""
        self._prune()
        key = self._by_ticket.get(ticket) if isinstance(ticket, str) else None
        if key is None:
            return None
        want = "diagnostics-%s-" % safe_name(key[0])
        if not isinstance(filename, str) or not filename.startswith(want):
            return None
        return key

    def received(self, key, summary):
        s = self._req.get(key)
        if s is not None:
            s["upload"] = summary
            self._by_ticket.pop(s["ticket"], None)  # one accepted upload per ticket

    def _forget(self, key):
        s = self._req.pop(key, None)
        if s is not None:
            self._by_ticket.pop(s["ticket"], None)

    def _prune(self):
        now = self._clock()
        for key in [k for k, s in self._req.items() if now > s["expires"]]:
            self._forget(key)


def import_journal(store, sid, body, validator, checksum_ok):
    """NDJSON of results -> summary; results not held yet are stored."""
    summary = {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(), "lines": 0,
               "invalid": 0, "checksumFailed": 0, "new": 0, "resultIds": []}
    for line in body.split(b"\n")[:_MAX_LINES]:
        if not line.strip():
            continue
        summary["lines"] += 1
        try:
            r = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):
            summary["invalid"] += 1
            continue
        try:
            bad = not isinstance(r, dict) or next(iter(validator.iter_errors({"result": r})),
                                                  None) is not None
        except RecursionError:  # nested deeper than the validator follows
            bad = True
        if bad:
            summary["invalid"] += 1
            continue
        ok = checksum_ok(r)
        summary["checksumFailed"] += not ok
        summary["resultIds"].append(r["resultId"])
        if store.add_result(sid, r, ok, None) is not None:
            summary["new"] += 1
    return summary
