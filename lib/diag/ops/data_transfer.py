# DataTransfer: the compatibility binding. With our vendorId, messageId names a
# diagnostics action and data carries its request payload; the answer's data is
# that action's response. Checked exactly like the native message.
import lazy
from diag import binding
from ocpp.check import JSON, Invalid, STR, REQ, check

# `data` is anyType in OCPP 2.1: any JSON value passes the message check; only our
# own messages need it to be an object.
REQ = (("vendorId", STR | REQ, 255), ("messageId", STR, 50), ("data", JSON, None))
FOLLOWS = 1  # most of what it carries answers with follow-up messages

_ACTIONS = ("GetDiagnosticsCatalog", "StartDiagnostics", "CancelDiagnostics", "GetDiagnosticsResults")


def handle(agent, p):
    d = agent.diag
    if p["vendorId"] != d.vendor_id:
        return {"status": "UnknownVendorId"}
    mid = p.get("messageId")
    if mid not in _ACTIONS:
        return {"status": "UnknownMessageId"}
    # Loaded for this call only (a task it returns keeps what it needs).
    name = agent.rpc.handlers[mid]
    try:
        return _call(agent, lazy.load(name), p.get("data"))
    finally:
        lazy.drop(name)


def _call(agent, mod, data):
    try:
        check(data if data is not None else {}, mod.REQ)
    except Invalid as e:
        # The OCPP-J error the native message would get, in additionalInfo
        # (reasonCode is limited to 20 characters).
        from diag.params import rejected
        return rejected("InvalidPayload", "%s: %s" % (e.code, e))
    d = agent.diag
    d.via = binding.DATA_TRANSFER
    try:
        res = mod.handle(agent, data)
    finally:
        d.via = None
    after = None
    if type(res) is tuple:
        res, after = res
    out = {"status": "Accepted", "data": res}
    return (out, after) if after is not None else out
