"""The console's side of GetLog (SPEC DG09): a station's results journal uploaded
to the console itself.

GetLog names an upload URL that carries a ticket (POST /api/uploads/{ticket}); the
ticket is the credential, issued for one station and one requestId, valid for TTL
seconds.  An upload is accepted only with a live ticket AND a file name that names
the ticket's station (the agent's `diagnostics-<stationId>-<time>.ndjson`): another
station, or anyone who did not get the URL from the console, is refused (403).
Each line is checked against the result schema and its checksum; results the console
does not hold yet are stored (unattached to a run), so a result whose notification
was lost is recovered.

Requests and their tickets are rows of `log_requests` (migration 4), not this
process's memory: on a PostgreSQL console the upload, the station's
LogStatusNotification and the operator's status read may each land on another
process.  Only the ticket's SHA-256 is stored (whoever reads the table cannot upload
in a station's name).  An upload claims its ticket with one conditional UPDATE, so
two uploads with one ticket, on one process or two, never both go through; the claim
is a lease, so a process that dies mid-upload does not burn the ticket for good.
Times are wall-clock (time.time()): processes on several machines share them.
"""
import hashlib
import json
import re
import secrets
import time

from sqlalchemy import (JSON, Column, Float, Integer, MetaData, String, Table, delete, insert,
                        or_, select, update)
from sqlalchemy.exc import IntegrityError

TTL = 900.0
LEASE = 300.0         # s an upload holds its ticket: reading 8 MB and checking each line
_MAX = 20             # outstanding requests per station: a client asking in a loop cannot
                      # grow the table (stations are bounded by the operator)
_MAX_BYTES = 8 << 20  # an upload over this is refused (413)
_MAX_LINES = 5000
_ID_LIMIT = 1 << 31   # OCPP integers are 32-bit, and so is the column

_meta = MetaData()
# Frozen here as its migration (migrations.py) created it; a later change is a new migration.
log_requests = Table(
    "log_requests", _meta,
    Column("station_id", String(48), primary_key=True),
    Column("request_id", Integer, primary_key=True, autoincrement=False),
    # sha256 of the ticket; NULL once an upload was accepted or the station refused
    Column("ticket_hash", String(64), unique=True),
    Column("requested_by", String(100), nullable=False),
    Column("status", String(30), nullable=False),   # Requested, then the station's word
    Column("status_info", JSON),
    Column("upload", JSON),                          # the summary of the accepted upload
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
    Column("claimed_until", Float),                  # an upload under way holds the ticket
)


def create_tables(conn):
    _meta.create_all(conn)


def safe_name(sid):
    # lib/diag/ops/get_log.py: characters other than A-Z a-z 0-9 . _ - become "_"
    return re.sub(r"[^A-Za-z0-9._-]", "_", sid)


def _digest(ticket):
    return hashlib.sha256(ticket.encode()).hexdigest()


def _id_ok(request_id):
    return type(request_id) is int and 0 <= request_id < _ID_LIMIT


class Uploads:
    def __init__(self, engine, clock=time.time):
        self.engine, self._clock = engine, clock

    def issue(self, sid, by):
        """A new request of `sid` -> (requestId, ticket)."""
        t = log_requests.c
        for attempt in range(5):
            now = self._clock()
            ticket = "up_" + secrets.token_urlsafe(24)
            req_id = secrets.randbelow(_ID_LIMIT - 1) + 1
            try:
                with self.engine.begin() as c:
                    self._prune(c, now)
                    # Oldest first beyond the bound, this one counted.
                    old = [r[0] for r in c.execute(
                        select(t.request_id).where(t.station_id == sid)
                        .order_by(t.created_at.desc(), t.request_id).offset(_MAX - 1))]
                    if old:
                        c.execute(delete(log_requests).where(t.station_id == sid,
                                                             t.request_id.in_(old)))
                    c.execute(insert(log_requests).values(
                        station_id=sid, request_id=req_id, ticket_hash=_digest(ticket),
                        requested_by=by[:100], status="Requested", created_at=now,
                        expires_at=now + TTL))
                return req_id, ticket
            except IntegrityError:  # that requestId (or ticket) is taken: draw again
                if attempt == 4:
                    raise

    def state(self, sid, request_id):
        if not _id_ok(request_id):
            return None
        t = log_requests.c
        with self.engine.connect() as c:
            r = c.execute(select(log_requests).where(
                t.station_id == sid, t.request_id == request_id,
                t.expires_at >= self._clock())).first()
        if r is None:
            return None
        return {"station": r.station_id, "requestId": r.request_id, "by": r.requested_by,
                "status": r.status, "statusInfo": r.status_info, "upload": r.upload}

    def rejected(self, sid, request_id, status, info):
        """GetLog refused or not delivered: the ticket goes, the state stays readable."""
        self._set(sid, request_id, status=str(status or "Rejected")[:30], status_info=info,
                  ticket_hash=None)

    def status(self, sid, request_id, status, info=None):
        """A LogStatusNotification (its status checked by the OCPP schema), or GetLog's
        refusal: only for a request made of this station."""
        self._set(sid, request_id, status=str(status)[:30], status_info=info)

    def take(self, ticket, filename):
        """Claim the ticket for one upload -> (sid, requestId) it is for, or None
        (refused: unknown, used, expired, another upload holding it, wrong file name).
        The caller ends the claim with received() or release()."""
        if not isinstance(ticket, str) or not 1 <= len(ticket) <= 64:
            return None
        t, h, now = log_requests.c, _digest(ticket), self._clock()
        with self.engine.begin() as c:
            # No pruning here: anyone may knock, and a knock must not cost a write.
            row = c.execute(select(t.station_id, t.request_id).where(
                t.ticket_hash == h, t.expires_at >= now)).first()
            if row is None:
                return None
            want = "diagnostics-%s-" % safe_name(row.station_id)
            if not isinstance(filename, str) or not filename.startswith(want):
                return None
            # Conditional: of two uploads at once (any processes) one row is updated.
            won = c.execute(update(log_requests).where(
                t.ticket_hash == h, or_(t.claimed_until.is_(None), t.claimed_until < now))
                .values(claimed_until=now + LEASE)).rowcount
        return (row.station_id, row.request_id) if won == 1 else None

    def received(self, key, summary):
        """The upload was read and imported: its summary kept, the ticket spent."""
        with self.engine.begin() as c:
            self._prune(c, self._clock())
        self._set(key[0], key[1], upload=summary, ticket_hash=None, claimed_until=None)

    def release(self, key):
        """The upload failed (too large, connection lost): the ticket may be used again."""
        self._set(key[0], key[1], claimed_until=None)

    def _set(self, sid, request_id, **values):
        if not _id_ok(request_id):  # a station's requestId: no range in the OCPP schema
            return
        t = log_requests.c
        with self.engine.begin() as c:
            c.execute(update(log_requests).where(
                t.station_id == sid, t.request_id == request_id,
                t.expires_at >= self._clock()).values(**values))

    @staticmethod
    def _prune(c, now):
        c.execute(delete(log_requests).where(log_requests.c.expires_at < now))


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
