# ItemsPerMessage / BytesPerMessage (DeviceDataCtrlr for GetVariables, SetVariables and
# GetReport; MonitoringCtrlr for Set/ClearVariableMonitoring): a request over either
# limit is refused as a whole with the CALLERROR the spec names (B06.FR.09/.10,
# B05.FR.09/.10, B08.FR.17/.18, N04.FR.09, N06.FR.06/.07).
from ocpp.rpc import CallError


def enforce(agent, kind, items, comp="DeviceDataCtrlr"):
    dm = agent.dm
    most = dm.get_int(comp, "ItemsPerMessage", kind, 16)
    if items > most:
        raise CallError("OccurrenceConstraintViolation",
                        "%d items over ItemsPerMessage%s (%d)" % (items, kind, most))
    most = dm.get_int(comp, "BytesPerMessage", kind, 4096)
    if agent.rpc.rx_len > most:
        raise CallError("FormatViolation",
                        "%d bytes over BytesPerMessage%s (%d)" % (agent.rpc.rx_len, kind, most))
