# The `Meter` component: how the station reaches its energy meter, so that a CSMS sees
# and changes it with GetVariables/SetVariables (values written persist in the store).
# The config's `meter` section gives the values until the CSMS sets them; pins and the
# UART id are wiring and stay in the config. Read by diag/tests/meter.py.
from model.devmodel import Component

_TABLE = """
Transport||o|RW||||rtu;tcp||rtu
Device||s|RW|||100|||
UnitId||i|RW||1|247|||1
Baud||i|RW|bd|1200|115200|||9600
Parity||o|RW||||N;E;O||N
StopBits||i|RW||1|2|||1
Host||s|RW|||64|||
Port||i|RW||1|65535|||502"""

# Variable -> key in the config's meter section.
_KEYS = ("Transport", "transport", "Device", "device", "UnitId", "unitId", "Baud", "baud",
         "Parity", "parity", "StopBits", "stopBits", "Host", "host", "Port", "port")
BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)


def _ascii(s):
    for c in s:
        if not " " < c < "\x7f":
            return False
    return True


def check(var, value):
    """None if `value` (a string) is acceptable for `var`, else an OCPP reasonCode.
    The device path is opened and written to by the meter test: only a device node
    will do, never a file of the station's own."""
    if var == "Device" and not (value.startswith("/dev/") and _ascii(value) and ".." not in value):
        return "InvalidValue"
    if var == "Host" and not _ascii(value):
        return "InvalidValue"  # host names on the wire are ASCII (IDNs are punycode)
    if var == "Baud" and int(value) not in BAUDS:
        return "ValueNotInList"
    return None


def install(agent):
    cfg = agent.cfg.get("meter")
    if cfg is None:
        return  # no meter wired: no component (the meter test then reports NotConfigured)

    def get(var, inst):
        i = _KEYS.index(var)
        return cfg.get(_KEYS[i + 1])

    agent.dm.add(Component("Meter", _TABLE, get=get, on_set=lambda var, inst, value: check(var, value)))
