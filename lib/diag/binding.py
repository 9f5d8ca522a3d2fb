# How the station's diagnostics notifications reach the CSMS: as the proposed native
# actions, or inside DataTransfer for a CSMS that only speaks plain OCPP 2.1.
# A request's notifications use the binding it arrived on; the station's own runs
# use native messages until the CSMS answers NotImplemented/NotSupported, then
# DataTransfer from then on.
from ocpp.rpc import CallError

NATIVE = "native"
DATA_TRANSFER = "dataTransfer"


async def notify(agent, action, payload, via=None, items=None):
    """items=(key, make): the list `key` made while the message goes out, make()
    giving its elements (called again for the DataTransfer retry); `payload` is then
    a function returning the rest (rpc.call)."""
    d = agent.diag
    via = via or d.binding
    if via == NATIVE:
        try:
            if items:
                return await agent.rpc.call(action, payload, items=(items[0], items[1]()))
            return await agent.rpc.call(action, payload)
        except CallError as e:
            if e.code not in ("NotImplemented", "NotSupported"):
                raise
            import log
            log.info("diag: CSMS has no %s; using DataTransfer from now on", action)
            d.binding = DATA_TRANSFER
    from ocpp import responses
    env = {"vendorId": d.vendor_id, "messageId": action}
    if items:
        res = await agent.rpc.call("DataTransfer", lambda: (env, payload()), resp=responses.DATA_TRANSFER,
                                   items=(("data", items[0]), items[1]()))
    else:
        env["data"] = payload
        res = await agent.rpc.call("DataTransfer", env, resp=responses.DATA_TRANSFER)
    if res.get("status") != "Accepted":
        raise CallError("Rejected", "DataTransfer %s: %s" % (action, res.get("status")))
    data = res.get("data")
    return data if type(data) is dict else {}
