"""The console's GetLog requests and upload tickets as database rows (tools/console/
uploads.py, migration 4): two stores on one database file stand for two console
processes.  A ticket issued by one is honoured by the other, once; it expires, it is
bound to one station's file name, an upload under way holds it (a lease, so a process
that died mid-upload does not burn it), the rows per station are bounded and expired
ones pruned, the ticket itself is never stored, and a hostile requestId changes nothing.
The HTTP side (a real agent's upload to another process) is in test_console_postgres.py."""
import hashlib
import os
import sys

import pytest
from sqlalchemy import func, inspect, select

from console_peer import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
from console import migrations, uploads  # noqa: E402
from console.store import Store  # noqa: E402

NAME = "diagnostics-CS_Z_rich-20260101T000000Z.ndjson"  # "CS Zürich": safe_name -> CS_Z_rich
SID = "CS Zürich"


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def two(tmp_path):
    """Two stores on one database, each with its Uploads, on one clock."""
    path = str(tmp_path / "console.db")
    stores = [Store(path), Store(path)]
    clock = Clock()
    yield [uploads.Uploads(s.engine, clock) for s in stores], clock, stores[0].engine
    for s in stores:
        s.close()


def _rows(engine, sid=None):
    q = select(func.count()).select_from(uploads.log_requests)
    if sid is not None:
        q = q.where(uploads.log_requests.c.station_id == sid)
    with engine.connect() as c:
        return c.execute(q).scalar()


def test_a_ticket_issued_by_one_process_is_honoured_by_the_other_once(two):
    (a, b), clock, engine = two
    req, ticket = a.issue(SID, "Ådne ✓")
    # The ticket is the credential: only its SHA-256 is kept.
    with engine.connect() as c:
        (row,) = c.execute(select(uploads.log_requests)).all()
    assert ticket not in repr(tuple(row))
    assert row.ticket_hash == hashlib.sha256(ticket.encode()).hexdigest()
    assert b.state(SID, req) == {"station": SID, "requestId": req, "by": "Ådne ✓",
                                 "status": "Requested", "statusInfo": None, "upload": None}
    # Another station's file name, none at all, or an unknown ticket: refused, not claimed.
    assert b.take(ticket, "diagnostics-CS_W-20260101T000000Z.ndjson") is None
    assert b.take(ticket, None) is None
    assert b.take("up_erfunden", NAME) is None and b.take(None, NAME) is None
    assert b.take("x" * 10000, NAME) is None
    assert b.take(ticket, NAME) == (SID, req)
    assert a.take(ticket, NAME) is None  # the other process: under way
    b.received((SID, req), {"lines": 2, "resultIds": [7, 8], "filename": NAME})
    assert a.take(ticket, NAME) is None and b.take(ticket, NAME) is None  # spent
    # The station's LogStatusNotification on the other process; read on both.
    a.status(SID, req, "Uploaded", {"reasonCode": "Fertig", "additionalInfo": "Größe ✓"})
    for up in (a, b):
        s = up.state(SID, req)
        assert s["status"] == "Uploaded" and s["statusInfo"]["additionalInfo"] == "Größe ✓"
        assert s["upload"] == {"lines": 2, "resultIds": [7, 8], "filename": NAME}
    # Only the request's own station: another one's status or read does nothing.
    b.status("CS-W", req, "UploadFailure")
    assert a.state(SID, req)["status"] == "Uploaded" and a.state("CS-W", req) is None


def test_a_failed_upload_gives_the_ticket_back_and_a_dead_one_lets_it_go(two):
    (a, b), clock, _ = two
    req, ticket = a.issue(SID, "ops")
    assert a.take(ticket, NAME) == (SID, req)
    a.release((SID, req))  # e.g. 413, or the connection dropped
    assert b.take(ticket, NAME) == (SID, req)
    # b dies holding it: refused until its lease ends, then free again.
    clock.now += uploads.LEASE - 1
    assert a.take(ticket, NAME) is None
    clock.now += 2
    assert a.take(ticket, NAME) == (SID, req)


def test_refused_by_the_station_the_ticket_goes_and_the_state_stays(two):
    (a, b), _, _ = two
    req, ticket = a.issue(SID, "ops")
    b.rejected(SID, req, None, {"reasonCode": "NotSent", "additionalInfo": "Zeitüberschreitung"})
    assert a.take(ticket, NAME) is None
    s = a.state(SID, req)
    assert s["status"] == "Rejected" and s["statusInfo"]["reasonCode"] == "NotSent"


def test_tickets_expire_and_expired_rows_are_pruned(two):
    (a, b), clock, engine = two
    req, ticket = a.issue(SID, "ops")
    other, _ = a.issue("CS-W", "ops")
    clock.now += uploads.TTL + 1
    assert b.take(ticket, NAME) is None and b.state(SID, req) is None
    b.status(SID, req, "Uploaded")  # late: nothing to update, nothing raised
    assert _rows(engine) == 2      # still there, invisible ...
    b.issue("CS-X", "ops")
    assert _rows(engine) == 1      # ... until the next request prunes them


def test_outstanding_requests_are_bounded_per_station(two):
    (a, b), clock, engine = two
    w, _ = b.issue("CS-W", "ops")
    first = []
    for i in range(uploads._MAX + 5):
        clock.now += 1
        first.append((a if i % 2 else b).issue(SID, "ops"))
    assert _rows(engine, SID) == uploads._MAX and _rows(engine, "CS-W") == 1
    assert [a.state(SID, r) is None for r, _ in first] == [True] * 5 + [False] * uploads._MAX
    assert b.take(first[0][1], NAME) is None            # dropped with its request
    assert b.take(first[-1][1], NAME) == (SID, first[-1][0])
    assert a.state("CS-W", w)["status"] == "Requested"  # another station's untouched


@pytest.mark.parametrize("bad", [-1, 1 << 31, 1 << 70, True, "3", None, 2.0])
def test_a_hostile_request_id_changes_nothing(two, bad):
    (a, _), _, _ = two
    req, _ = a.issue(SID, "ops")
    a.status(SID, bad, "UploadFailure", {"reasonCode": "x"})
    a.rejected(SID, bad, "Rejected", None)
    assert a.state(SID, bad) is None
    assert a.state(SID, req)["status"] == "Requested"


def test_a_version_3_database_gains_the_table_and_keeps_its_data(tmp_path, monkeypatch):
    path = str(tmp_path / "v3.db")
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:3])
    s = Store(path)
    assert s.migrated == (0, 3) and s.add_station("CS-ä", None)
    assert "log_requests" not in inspect(s.engine).get_table_names()
    s.close()
    monkeypatch.undo()
    s = Store(path)
    try:
        assert s.migrated[0] == 3 and s.migrated[1] >= 4
        assert "log_requests" in inspect(s.engine).get_table_names()
        assert s.station("CS-ä") is not None
        req, ticket = uploads.Uploads(s.engine).issue("CS-ä", "ops")
        assert uploads.Uploads(s.engine).take(ticket, "diagnostics-CS-_-1.ndjson") == ("CS-ä", req)
    finally:
        s.close()
