"""The console's store of result-signing keys (SPEC DG16): provisioned to a station
write-only (SetVariables DiagnosticsCtrlr.ResultSigningKey), kept here by station and
key id so that every result a station ever signed stays verifiable, and exported (admin
only) as the keys file `console verify --keys` reads: {station id: {keyId: hex key}}.

HMAC keys are symmetric: the console must keep them readable to hand them to an auditor.
Whoever reads this table can sign results in a station's name, which is why only the
admin role provisions or exports keys, and no other API shows them.
"""
import asyncio
import secrets
import time

from ocppdiag.signing import key_value  # tools/ is on the path, as for console
from sqlalchemy import Column, Float, MetaData, String, Table, and_, insert, select, update

from .auth import require
from .service import Conflict, Invalid, Unreachable
from .stations import CallErrorReply


_meta = MetaData()
# Frozen here as its migration (migrations.py) created it; a later change is a new migration.
signing_keys = Table(
    "signing_keys", _meta,
    Column("station_id", String(48), primary_key=True),
    Column("key_id", String(36), primary_key=True),
    Column("key_hex", String(128), nullable=False),
    # provisioning (sent, no answer yet), active (the station accepted it),
    # rejected (the station refused it: it never signed with it)
    Column("status", String(20), nullable=False),
    Column("status_info", String(200)),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(100), nullable=False),
)


def create_tables(conn):
    _meta.create_all(conn)


class SigningKeys:
    def __init__(self, console):
        self.console = console
        self.engine = console.store.engine

    async def provision(self, actor, sid, key_id=None):
        """A new random 32-byte key for `sid`, stored, then set on the station."""
        require(actor, "admin", "provisioning a result-signing key")
        self.console._station(sid)
        if not self.console.endpoint.is_connected(sid):
            # Nothing sent, nothing kept: a key is stored only once it may reach the station.
            raise Unreachable("station %s is not connected" % sid, station=sid)
        key_id = key_id or time.strftime("k-%Y%m%dT%H%M%S", time.gmtime())
        key = secrets.token_bytes(32)
        try:
            value = key_value(key_id, key)
        except ValueError as e:
            raise Invalid("key id: %s" % e, field="keyId")
        with self.engine.begin() as c:
            if c.execute(select(signing_keys).where(and_(
                    signing_keys.c.station_id == sid, signing_keys.c.key_id == key_id))).first():
                raise Conflict("station %s already has a key %s" % (sid, key_id), keyId=key_id)
            # Stored before it is sent: a key the station may hold is never lost here.
            c.execute(insert(signing_keys).values(
                station_id=sid, key_id=key_id, key_hex=key.hex(), status="provisioning",
                created_at=time.time(), created_by=actor.name[:100]))
        req = {"setVariableData": [{"component": {"name": "DiagnosticsCtrlr"},
                                    "variable": {"name": "ResultSigningKey"},
                                    "attributeValue": value}]}
        try:
            res = await self.console.endpoint.call(sid, "SetVariables", req, 15)
        except (ConnectionError, TimeoutError, asyncio.TimeoutError) as e:
            # Kept as "provisioning": the station may have taken it before the link broke.
            raise Unreachable("station %s: %s" % (sid, e), station=sid, keyId=key_id)
        except CallErrorReply as e:
            self._set(sid, key_id, "rejected", "%s %s" % (e.code, e.description))
            self.console.bus.publish("key.refused", sid, keyId=key_id, reasonCode=e.code,
                                     by=actor.name)
            raise Conflict("station refused the key: %s" % e.code, station=sid, keyId=key_id)
        r = (res.get("setVariableResult") or [{}])[0]
        if r.get("attributeStatus") != "Accepted":
            why = (r.get("attributeStatusInfo") or {}).get("reasonCode") or r.get("attributeStatus")
            self._set(sid, key_id, "rejected", str(why))
            self.console.bus.publish("key.refused", sid, keyId=key_id, reasonCode=why,
                                     by=actor.name)
            raise Conflict("station refused the key: %s" % why, station=sid, keyId=key_id,
                           reasonCode=why)
        self._set(sid, key_id, "active", None)
        self.console.bus.publish("key.provisioned", sid, keyId=key_id, by=actor.name)
        return {"station": sid, "keyId": key_id, "status": "active"}

    def _set(self, sid, key_id, status, info):
        with self.engine.begin() as c:
            c.execute(update(signing_keys).where(and_(
                signing_keys.c.station_id == sid, signing_keys.c.key_id == key_id))
                .values(status=status, status_info=info and info[:200]))

    def export(self, actor, stations=None):
        """The keys file: station id -> {keyId: hex key}, every key a station may have
        signed with (refused ones left out)."""
        require(actor, "admin", "exporting result-signing keys")
        q = select(signing_keys).where(signing_keys.c.status != "rejected") \
            .order_by(signing_keys.c.station_id, signing_keys.c.created_at)
        if stations:
            q = q.where(signing_keys.c.station_id.in_(list(stations)))
        out = {}
        with self.engine.connect() as c:
            for r in c.execute(q):
                out.setdefault(r.station_id, {})[r.key_id] = r.key_hex
        self.console.bus.publish("key.exported", None, by=actor.name,
                                 stations=sorted(out))
        return out

    def key_ids(self, sid):
        """Key ids and their status, never the keys (for reports)."""
        with self.engine.connect() as c:
            return [{"keyId": r.key_id, "status": r.status, "createdBy": r.created_by}
                    for r in c.execute(select(signing_keys.c.key_id, signing_keys.c.status,
                                              signing_keys.c.created_by)
                                       .where(signing_keys.c.station_id == sid)
                                       .order_by(signing_keys.c.created_at))]
