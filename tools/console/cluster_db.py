"""The tables of cluster.py: which console processes are alive, which holds which
station.  Created by migration 2 on every backend; only PostgreSQL uses them.
Frozen as shipped: a change is a new migration."""
from sqlalchemy import Column, Float, Integer, MetaData, String, Table

meta = MetaData()
consoles = Table(
    "consoles", meta,
    Column("id", String(36), primary_key=True),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("started_at", Float, nullable=False),
    Column("seen_at", Float, nullable=False),
)
holders = Table(
    "station_holders", meta,
    Column("station_id", String(48), primary_key=True),
    Column("console_id", String(36), nullable=False, index=True),
    Column("since", Float, nullable=False),
)


def create_tables(conn):
    """Migration 2 (all backends; only PostgreSQL uses them)."""
    meta.create_all(conn)

