# What a run is aimed at (SPEC.md, DG10): a test declares its scope (SCOPE: station,
# evse or connector) and a request names the EVSE or connector with OCPP's EVSEType.
# Imported only for a request that names a target or a test that needs one.
from diag.params import Refused


def target(agent, tid, scope, evse):
    """The target as recorded in the result, {id[, connectorId]}, or None for the
    station; raises Refused naming the test."""
    if evse is None:
        if scope == "station":
            return None
        raise Refused("TargetRequired", "test %s runs per %s: name evse.id%s" % (
            tid, scope, " and evse.connectorId" if scope == "connector" else ""))
    if scope == "station":
        raise Refused("TargetNotAllowed", "test %s runs for the whole station: give no evse" % tid)
    c = evse.get("connectorId")
    if scope == "evse" and c is not None:
        raise Refused("TargetNotAllowed", "test %s runs per EVSE: give no evse.connectorId" % tid)
    if scope == "connector" and c is None:
        raise Refused("TargetRequired", "test %s runs per connector: name evse.connectorId" % tid)
    # Only id and connectorId: the request's customData is not part of the result.
    t = {"id": evse["id"]}
    if c is not None:
        t["connectorId"] = c
    # EVSE 0 / connector 0 stand for "the station" / "the EVSE" elsewhere in OCPP: not a target.
    if not evse["id"] or c == 0 or not agent.connectors_of(t):
        raise Refused("UnknownTarget", "test %s: this station has no EVSE %d%s" % (
            tid, evse["id"], "" if c is None else " connector %d" % c))
    return t
