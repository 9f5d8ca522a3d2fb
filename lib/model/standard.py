# The standard components every OCPP 2.1 station carries, named as the device
# model appendix (OCPP 2.1 Part 2, Appendix 3) names them. Live values come from
# the agent through each component's `get`; RW defaults from the config.
from model.devmodel import Component

_STATES = "Available;Occupied;Reserved;Unavailable;Faulted"

_STATION = """
AvailabilityState||o|R||||%s||Available
Available||b|R||||||true
Model||s|R|||||c|
VendorName||s|R|||||c|
SupplyPhases||i|R||0|3||c|3
Problem||b|R||||||false""" % _STATES

_EVSE = """
AvailabilityState||o|R||||%s||Available
Available||b|R||||||true
SupplyPhases||i|R||0|3||c|3""" % _STATES

_CONNECTOR = """
AvailabilityState||o|R||||%s||Available
Available||b|R||||||true
ConnectorType||s|R|||||c|cType2
SupplyPhases||i|R||0|3||c|3""" % _STATES

# RetryBackOff*, HeartbeatInterval, MessageTimeout defaults come from the config.
_COMM = """
FileTransferProtocols||m|R||||HTTP;HTTPS|c|HTTP,HTTPS
HeartbeatInterval||i|RW|s|1|86400|||
MessageTimeout|Default|i|RW|s|1|600|||
NetworkProfileConnectionAttempts||i|RW||1|100|||3
OfflineThreshold||i|RW|s|0|86400|||60
QueueAllMessages||b|RW||||||false
ResetRetries||i|RW||0|10|||2
RetryBackOffRandomRange||i|RW|s|0|3600|||
RetryBackOffRepeatTimes||i|RW||0|20|||
RetryBackOffWaitMinimum||i|RW|s|0|3600|||
WebSocketPingInterval||i|RW|s|0|3600|||0"""

_DATA = """
BytesPerMessage|GetReport|i|R|||||c|4096
BytesPerMessage|GetVariables|i|R|||||c|4096
BytesPerMessage|SetVariables|i|R|||||c|4096
ConfigurationValueSize||i|R|||||c|1000
ItemsPerMessage|GetReport|i|R|||||c|16
ItemsPerMessage|GetVariables|i|R|||||c|16
ItemsPerMessage|SetVariables|i|R|||||c|16
ReportingValueSize||i|R|||||c|1000
ValueSize||i|R|||||c|1000"""

_CLOCK = """
DateTime||t|R||||||
NtpServerUri|1|s|RW|||512|||
NtpSource||o|RW||||DHCP;manual||manual
TimeAdjustmentReportingThreshold||i|RW|s|0|86400|||20
TimeOffset||s|RW|||10|||+00:00
TimeSource||q|RW||||Heartbeat;NTP;GPS;RealTimeClock;MobileNetwork;RadioTimeTransmitter||Heartbeat
TimeZone||s|RW|||64|||"""

_SECURITY = """
BasicAuthPassword||p|W||||||
CertificateEntries||i|R||||||0
Identity||s|R|||||c|
MaxCertificateChainSize||i|R|||||c|5600
OrganizationName||s|RW|||100|||
SecurityProfile||i|R||1|3||c|"""

# Variable monitoring (OCPP 2.1 N; model/monitors.py). MonitoringBase / MonitoringLevel
# are the 2.0.1 names of what is in force, kept as read-only mirrors of the Active ones.
_MONITORING = """
Enabled||b|RW||||||true
Available||b|R||||||true
ItemsPerMessage|SetVariableMonitoring|i|R|||||c|8
ItemsPerMessage|ClearVariableMonitoring|i|R|||||c|8
BytesPerMessage|SetVariableMonitoring|i|R|||||c|4096
BytesPerMessage|ClearVariableMonitoring|i|R|||||c|4096
OfflineQueuingSeverity||i|RW||0|9|||9
MonitoringBase||o|R||||All;FactoryDefault;HardWiredOnly||
MonitoringLevel||i|R||0|9|||
ActiveMonitoringBase||o|R||||All;FactoryDefault;HardWiredOnly||
ActiveMonitoringLevel||i|R||0|9|||"""


def install(agent):
    dm = agent.dm
    cfg = agent.cfg

    def station(var, inst):
        if var == "Model":
            return cfg["model"]
        if var == "VendorName":
            return cfg["vendor"]
        if var in ("AvailabilityState", "Available"):
            return agent.availability(None, None, var)
        return None

    def comm(var, inst):
        if var == "HeartbeatInterval":
            return cfg["heartbeatInterval"]
        if var == "MessageTimeout":
            return cfg["messageTimeout"]
        if var.startswith("RetryBackOff"):
            return cfg[var[0].lower() + var[1:]]
        return None

    def comm_set(var, inst, value):
        agent.on_config_change(var)

    def clock_get(var, inst):
        if var == "DateTime":
            import clock
            return clock.iso()
        return None

    def security(var, inst):
        if var == "Identity":
            return cfg["stationId"]
        if var == "SecurityProfile":
            return cfg["securityProfile"]
        return None

    def monitoring(var, inst):
        # Set by SetMonitoringBase / SetMonitoringLevel, kept with the monitors
        # (model/monitors.py) so that a request costs one flash write.
        if var.endswith("MonitoringBase"):
            return agent.store.get("mon/base") or "All"
        if var.endswith("MonitoringLevel"):
            return str(agent.store.get("mon/level", 9))
        return None

    dm.add(Component("ChargingStation", _STATION, get=station))
    for e, nconn in enumerate(cfg["evses"]):
        eid = e + 1

        def evse_get(var, inst, eid=eid):
            return agent.availability(eid, None, var)

        dm.add(Component("EVSE", _EVSE, evse=eid, get=evse_get))
        for c in range(1, nconn + 1):

            def conn_get(var, inst, eid=eid, c=c):
                return agent.availability(eid, c, var)

            dm.add(Component("Connector", _CONNECTOR, evse=eid, connector=c, get=conn_get))
    dm.add(Component("OCPPCommCtrlr", _COMM, get=comm, on_set=comm_set))
    dm.add(Component("DeviceDataCtrlr", _DATA))
    dm.add(Component("ClockCtrlr", _CLOCK, get=clock_get))
    dm.add(Component("SecurityCtrlr", _SECURITY, get=security))
    dm.add(Component("MonitoringCtrlr", _MONITORING, get=monitoring))
    if agent.store.get("mon/c"):
        agent.startup_hooks.append(_monitors)


async def _monitors(agent):
    # The CSMS's monitors from before the reboot: compared from now on (N07.FR.13).
    import lazy
    lazy.load("model.monitors").start_sweep(agent)
