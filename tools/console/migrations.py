"""Versioned schema migrations: a `schema_version` table and an ordered list.

Each migration runs once, in its own transaction, and records its number.  To change
the schema append a function to MIGRATIONS (ALTER TABLE ... written for SQLite and
PostgreSQL both) and change db.py to match; never edit one that has shipped.
On PostgreSQL several console processes may start at once: the whole check-and-apply
runs under a session advisory lock, so one migrates and the others then find it done.
"""
import time

from sqlalchemy import (Column, Float, Integer, MetaData, String, Table, func, insert, select,
                        text)

from . import cluster_db, db

_meta = MetaData()
schema_version = Table(
    "schema_version", _meta,
    Column("version", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("applied_at", Float, nullable=False),
)


def _v1_initial(conn):
    # While v1 is the only migration, db.metadata *is* the v1 schema.  The first
    # migration that alters a table must freeze v1's Table definitions here.
    db.metadata.create_all(conn)


def _v2_cluster(conn):
    cluster_db.create_tables(conn)  # defined (and frozen) in cluster_db.py


def _v3_signing_keys(conn):
    from . import signing_keys
    signing_keys.create_tables(conn)  # its table, defined (and frozen) in signing_keys.py


def _v4_log_requests(conn):
    from . import uploads
    uploads.create_tables(conn)  # GetLog requests and tickets, defined (and frozen) in uploads.py


MIGRATIONS = [
    (1, "initial tables", _v1_initial),
    (2, "console processes and the stations they hold", _v2_cluster),
    (3, "result-signing keys by station and key id", _v3_signing_keys),
    (4, "GetLog requests and their upload tickets, shared by all console processes",
     _v4_log_requests),
]
_LOCK = 0x0C0D1A6  # pg_advisory_lock key: "console migrations"


def current(conn):
    row = conn.execute(select(func.max(schema_version.c.version))).scalar()
    return row or 0


def migrate(engine):
    """Bring the database to the newest version -> (from, to)."""
    with engine.connect() as conn:
        pg = conn.dialect.name == "postgresql"
        if pg:  # held by this session until unlocked (or the session ends)
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK})
            conn.commit()
        try:
            with conn.begin():
                _meta.create_all(conn)
                start = current(conn)
            for number, name, fn in MIGRATIONS:
                if number <= start:
                    continue
                with conn.begin():
                    fn(conn)
                    conn.execute(insert(schema_version).values(version=number, name=name,
                                                               applied_at=time.time()))
        finally:
            if pg:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK})
                conn.commit()
    return start, MIGRATIONS[-1][0]
