"""Versioned schema migrations: a `schema_version` table and an ordered list.

Each migration runs once, in its own transaction, and records its number.  To change
the schema append a function to MIGRATIONS (ALTER TABLE ... written for SQLite and
PostgreSQL both) and change db.py to match; never edit one that has shipped.
"""
import time

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, func, insert, select

from . import db

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


def _v2_signing_keys(conn):
    from . import signing_keys
    signing_keys.create_tables(conn)  # its table, defined (and frozen) in signing_keys.py


MIGRATIONS = [
    (1, "initial tables", _v1_initial),
    (2, "result-signing keys by station and key id", _v2_signing_keys),
]


def current(conn):
    row = conn.execute(select(func.max(schema_version.c.version))).scalar()
    return row or 0


def migrate(engine):
    """Bring the database to the newest version -> (from, to)."""
    _meta.create_all(engine)
    with engine.begin() as conn:
        start = current(conn)
    for number, name, fn in MIGRATIONS:
        if number <= start:
            continue
        with engine.begin() as conn:
            fn(conn)
            conn.execute(insert(schema_version).values(version=number, name=name,
                                                       applied_at=time.time()))
    return start, MIGRATIONS[-1][0]
