# DeviceDataCtrlr ItemsPerMessage / BytesPerMessage for GetVariables, SetVariables
# and GetReport: a request over either limit is refused as a whole with the CALLERROR
# the spec names (B06.FR.09/.10, B05.FR.09/.10, B08.FR.17/.18).
from ocpp.rpc import CallError


def enforce(agent, kind, items):
    dm = agent.dm
    most = dm.get_int("DeviceDataCtrlr", "ItemsPerMessage", kind, 16)
    if items > most:
        raise CallError("OccurrenceConstraintViolation",
                        "%d items over ItemsPerMessage%s (%d)" % (items, kind, most))
    most = dm.get_int("DeviceDataCtrlr", "BytesPerMessage", kind, 4096)
    if agent.rpc.rx_len > most:
        raise CallError("FormatViolation",
                        "%d bytes over BytesPerMessage%s (%d)" % (agent.rpc.rx_len, kind, most))
