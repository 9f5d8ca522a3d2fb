"""The console's tables (SQLAlchemy Core) and the engine.

SQLite by default (a file path), any SQLAlchemy URL otherwise (PostgreSQL through
psycopg 3: `postgresql+psycopg://...`).  Times are epoch seconds (REAL) so that
filters and ordering are plain comparisons on every backend; payloads are JSON.
The schema is created and upgraded only by migrations.py.
"""
import os

from sqlalchemy import (JSON, Boolean, Column, Float, ForeignKey, Integer, MetaData, String,
                        Table, Text, UniqueConstraint, create_engine, event)

metadata = MetaData()

stations = Table(
    "stations", metadata,
    Column("id", String(48), primary_key=True),         # OCPP identity: 48 chars at most
    Column("password_hash", Text),                       # auth.hash_secret; NULL: cannot connect
    Column("created_at", Float, nullable=False),
    Column("last_contact", Float),
    Column("connected", Boolean, nullable=False, default=False),
    Column("boot", JSON),                                # vendor, model, firmware from BootNotification
    Column("health", String(20)),                        # last healthStatus
    Column("health_at", Float),
)

catalogs = Table(
    "catalogs", metadata,
    Column("station_id", String(48), ForeignKey("stations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("catalog_version", String(50)),
    Column("fetched_at", Float, nullable=False),
    Column("tests", JSON, nullable=False),               # list of DiagnosticTestDescriptorType
)

fleets = Table(
    "fleets", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("requestor", String(100), nullable=False),
    Column("tests", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
)

runs = Table(
    "runs", metadata,
    # The run id is the StartDiagnostics requestId: unique across the console, so a
    # result names exactly one run and one station.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("station_id", String(48), ForeignKey("stations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("fleet_id", Integer, ForeignKey("fleets.id"), index=True),
    Column("requestor", String(100), nullable=False),
    Column("tests", JSON, nullable=False),               # [{testId, parameter:[{name,value}]}]
    Column("stop_on_failure", Boolean, nullable=False, default=False),
    # requested, accepted, running, cancelling, done, cancelled, rejected, unreachable
    Column("status", String(20), nullable=False),
    Column("status_info", JSON),
    Column("total", Integer, nullable=False),
    Column("completed", Integer, nullable=False, default=0),
    Column("verdict", String(20)),                       # Passed when every result passed
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

results = Table(
    "results", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("station_id", String(48), ForeignKey("stations.id", ondelete="CASCADE"),
           nullable=False),
    Column("result_id", Integer, nullable=False),        # the station's resultId
    Column("run_id", Integer, ForeignKey("runs.id"), index=True),
    Column("test_id", String(50), nullable=False),
    Column("verdict", String(20), nullable=False),
    Column("health_status", String(20)),
    Column("requestor", String(100)),
    Column("trigger", String(20)),
    Column("end_time", String(40)),
    Column("received_at", Float, nullable=False, index=True),
    Column("checksum_ok", Boolean, nullable=False),
    Column("payload", JSON, nullable=False),             # the result exactly as received
    UniqueConstraint("station_id", "result_id"),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", Float, nullable=False),
    Column("station_id", String(48), index=True),
    Column("run_id", Integer, index=True),
    Column("kind", String(40), nullable=False),
    Column("data", JSON),
)

health = Table(
    "health", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("station_id", String(48), ForeignKey("stations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("time", Float, nullable=False),
    Column("status", String(20), nullable=False),
    Column("result_row", Integer, ForeignKey("results.id")),
)

schedules = Table(
    "schedules", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("stations", JSON),                            # list of ids; NULL: every station
    Column("tests", JSON, nullable=False),
    Column("interval_s", Integer, nullable=False),
    Column("next_at", Float, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
)

tokens = Table(
    "tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the token
    Column("created_at", Float, nullable=False),
    Column("created_by", String(100)),
)


def url_for(db):
    """A file path becomes a SQLite URL; a URL is kept (a bare postgresql:// one is
    given the psycopg 3 driver, the one installed)."""
    for bare in ("postgresql://", "postgres://"):
        if db.startswith(bare):
            return "postgresql+psycopg://" + db[len(bare):]
    if "://" in db:
        return db
    return "sqlite:///" + os.path.abspath(db)


def make_engine(db):
    url = url_for(db)
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            # WAL: readers do not block the writer; NORMAL: a commit is one fsync of the
            # log, not two (still durable across a console crash, not a power cut).
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    return engine
