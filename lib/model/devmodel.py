# The OCPP 2.x device model: components with variables, as a registry that any
# module can add components to (the diagnostics model adds one per test).
#
# RAM is the constraint: a component declares its variables as one text table
# (a string constant, which stays in flash when the agent is frozen) and a line is
# parsed only while it is being read. Only values that differ from their defaults
# are held, in the store, which makes every write persistent.
#
# Table line:  name|instance|type|mutability|unit|min|max|valuesList|flags|default
#   type:  s string, d decimal, i integer, t dateTime, b boolean, o OptionList,
#          q SequenceList, m MemberList, p passwordString
#   mutability: R ReadOnly, W WriteOnly, RW ReadWrite
#   flags: c constant (never changes while running)
#   valuesList entries are separated by ';' (the OCPP wire form uses ',').
from micropython import const

_NAME = const(0)
_INST = const(1)
_TYPE = const(2)
_MUT = const(3)
_UNIT = const(4)
_MIN = const(5)
_MAX = const(6)
_VALS = const(7)
_FLAGS = const(8)
_DEFAULT = const(9)

# Code letter -> OCPP name. Tuples of constants, not dicts: frozen, they stay in flash.
_DTYPES = ("s", "string", "d", "decimal", "i", "integer", "t", "dateTime", "b", "boolean",
           "o", "OptionList", "q", "SequenceList", "m", "MemberList", "p", "passwordString")
_MUTS = ("R", "ReadOnly", "W", "WriteOnly", "RW", "ReadWrite")


def _name(table, code):
    return table[table.index(code) + 1]


def dtype_name(code):
    return _name(_DTYPES, code)


def mut_name(code):
    return _name(_MUTS, code)

VALUE_SIZE = const(1000)  # DeviceDataCtrlr.ValueSize / ConfigurationValueSize


class Component:
    """name/instance/evse/connector identify it; `table` declares its variables.
    get(var, inst) may return a live value (str) or None for the stored/default one.
    on_set(var, inst, value) may refuse a write by returning a reason string, or
    return "RebootRequired"."""

    # Unset parts read these class defaults: an instance holds only the attributes it
    # sets, and a smaller attribute table (a station has dozens of components: one
    # per test, per EVSE, per connector) is RAM kept for good.
    instance = evse = connector = get = on_set = None

    def __init__(self, name, table, instance=None, evse=None, connector=None, get=None, on_set=None):
        self.name = name
        self.table = table if table.startswith("\n") else "\n" + table
        if instance is not None:
            self.instance = instance
        if evse is not None:
            self.evse = evse
        if connector is not None:
            self.connector = connector
        if get is not None:
            self.get = get
        if on_set is not None:
            self.on_set = on_set

    def key(self):
        k = self.name
        if self.instance:
            k += ":" + self.instance
        if self.evse is not None:
            k += "@%d" % self.evse
            if self.connector is not None:
                k += ".%d" % self.connector
        return k

    def vars(self):
        """Yield each variable line, parsed, one at a time."""
        t = self.table
        i = 1
        n = len(t)
        while i < n:
            j = t.find("\n", i)
            if j < 0:
                j = n
            if j > i:
                yield t[i:j].split("|")
            i = j + 1

    def find(self, name, inst=None):
        t = self.table
        probe = "\n%s|%s|" % (name, inst or "")
        i = t.find(probe)
        if i < 0:
            return None
        j = t.find("\n", i + 1)
        return t[i + 1:j if j > 0 else len(t)].split("|")

    def to_ocpp(self):
        d = {"name": self.name}
        if self.instance:
            d["instance"] = self.instance
        if self.evse is not None:
            e = {"id": self.evse}
            if self.connector is not None:
                e["connectorId"] = self.connector
            d["evse"] = e
        return d


def var_ocpp(v):
    d = {"name": v[_NAME]}
    if v[_INST]:
        d["instance"] = v[_INST]
    return d


def writable(v):
    return "W" in v[_MUT]


def monitorable(v):
    """supportsMonitoring: write-only values are never read back and constants never
    change, so no monitor can be set on either (model/monitors.py)."""
    return v[_MUT] != "W" and v[_TYPE] != "p" and "c" not in v[_FLAGS]


class DeviceModel:
    def __init__(self, store):
        self.store = store
        self.comps = []

    def add(self, comp):
        self.comps.append(comp)
        return comp

    def remove(self, comp):
        self.comps.remove(comp)

    def component(self, name, instance=None, evse=None, connector=None):
        for c in self.comps:
            if (c.name == name and c.instance == instance and c.evse == evse
                    and c.connector == connector):
                return c
        return None

    def match(self, cd):
        """The component an OCPP ComponentType names, or None."""
        e = cd.get("evse") or {}
        return self.component(cd["name"], cd.get("instance"), e.get("id"), e.get("connectorId"))

    def lookup(self, it):
        """A GetVariableData / SetVariableData item -> (component, variable line,
        None) or (None, None, the attributeStatus that refuses it)."""
        comp = self.match(it["component"])
        if comp is None:
            return None, None, "UnknownComponent"
        var = it["variable"]
        v = comp.find(var["name"], var.get("instance"))
        if v is None:
            return None, None, "UnknownVariable"
        if it.get("attributeType", "Actual") != "Actual":
            return None, None, "NotSupportedAttributeType"
        return comp, v, None

    def _skey(self, comp, v):
        k = "dm/" + comp.key() + "/" + v[_NAME]
        return k + ":" + v[_INST] if v[_INST] else k

    def value(self, comp, v):
        """Current Actual value as an OCPP string."""
        s = self.store.get(self._skey(comp, v))
        if s is not None:
            return s
        if comp.get:
            s = comp.get(v[_NAME], v[_INST] or None)
            if s is not None:
                return s if type(s) is str else to_str(s)
        return v[_DEFAULT] if len(v) > _DEFAULT else ""

    def get(self, name, var, inst=None, cinst=None):
        c = self.component(name, cinst)
        v = c and c.find(var, inst)
        return self.value(c, v) if v else None

    def get_int(self, name, var, inst=None, default=0):
        s = self.get(name, var, inst)
        try:
            return int(s)
        except (TypeError, ValueError):
            return default

    def put(self, name, var, value, inst=None):
        """Internal write (no mutability check): the station itself updating a value,
        e.g. HeartbeatInterval from the BootNotification response."""
        c = self.component(name)
        v = c.find(var, inst)
        self.store.put(self._skey(c, v), to_str(value))

    def set(self, comp, v, value):
        """SetVariables: -> (attributeStatus, reasonCode or None)."""
        if not writable(v):
            return "Rejected", "ReadOnly"
        reason = validate(v, value)
        if reason:
            return "Rejected", reason
        status = "Accepted"
        if comp.on_set:
            r = comp.on_set(v[_NAME], v[_INST] or None, value)
            if r == "RebootRequired":
                status = r
            elif r:
                return "Rejected", r
        self.store.put(self._skey(comp, v), value)
        return status, None


def to_str(x):
    if x is True:
        return "true"
    if x is False:
        return "false"
    return str(x)


def validate(v, s):
    """None if `s` is a valid value for variable line `v`, else an OCPP reasonCode."""
    if len(s) > VALUE_SIZE:
        return "ValueTooLarge"
    t = v[_TYPE]
    if t == "i" or t == "d":
        try:
            x = int(s) if t == "i" else float(s)
        except ValueError:
            return "InvalidValue"
        if (v[_MIN] and x < float(v[_MIN])) or (v[_MAX] and x > float(v[_MAX])):
            return "ValueOutOfRange"
    elif t == "b":
        if s not in ("true", "false"):
            return "InvalidValue"
    elif t == "o":
        if s not in v[_VALS].split(";"):
            return "ValueNotInList"
    elif t == "m" or t == "q":
        allowed = v[_VALS].split(";")
        for part in s.split(","):
            if part not in allowed:
                return "ValueNotInList"
    elif t == "p":
        # OCPP 2.x A00.FR.205: basic-auth password 16..40 characters.
        if not (16 <= len(s) <= 40):
            return "InvalidValue"
    elif t == "t":
        import clock
        try:
            clock.parse(s)
        except (ValueError, IndexError):
            return "InvalidValue"
    elif v[_MAX] and len(s) > int(v[_MAX]):
        return "ValueTooLarge"
    return None
