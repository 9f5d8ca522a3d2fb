# The station's configuration file (JSON). Checked completely at start so that a
# mistake gives one clear line instead of a failure later in the field.

_DEFAULTS = (
    ("ocppVersions", ["2.1", "2.0.1"]),
    ("evses", [1]),
    ("heartbeatInterval", 300),
    ("messageTimeout", 30),
    ("retryBackOffWaitMinimum", 10),
    ("retryBackOffRandomRange", 10),
    ("retryBackOffRepeatTimes", 5),
    ("maxMessageSize", 8192),
    ("reportItemsPerPart", 8),
    ("logLevel", "info"),
    ("extensions", ["diag"]),
    ("production", False),
)


class ConfigError(Exception):
    pass


def _need(cfg, key, types, what):
    v = cfg.get(key)
    if type(v) not in types:
        raise ConfigError("'%s' must be %s" % (key, what))
    return v


def load(path):
    import json
    from ocpp import text
    try:
        with open(path, "rb") as f:
            raw = bytearray(f.read())
    except OSError as e:
        raise ConfigError("cannot read %s (%s)" % (path, e))
    # Strings from here reach the CSMS (stationId, vendor...): they must be UTF-8,
    # and escaped UTF-16 halves are made valid as for messages (ocpp/text.py).
    n = text.fix_surrogates(raw, len(raw))
    if not text.valid(raw, n):
        raise ConfigError("%s is not UTF-8 text" % path)
    try:
        cfg = json.loads(memoryview(raw)[:n])
    except ValueError as e:
        raise ConfigError("%s is not valid JSON (%s)" % (path, e))
    return check(cfg)


def check(cfg):
    if type(cfg) is not dict:
        raise ConfigError("the configuration must be a JSON object")
    for k, v in _DEFAULTS:
        cfg.setdefault(k, v)
    url = _need(cfg, "csmsUrl", (str,), "a ws:// or wss:// URL")
    if not (url.startswith("ws://") or url.startswith("wss://")):
        raise ConfigError("'csmsUrl' must start with ws:// or wss://")
    sid = _need(cfg, "stationId", (str,), "a string")
    if not (0 < len(sid) <= 48) or "/" in sid or ":" in sid:
        raise ConfigError("'stationId' must be 1..48 characters without '/' or ':'")
    # Two stations never share a journal: by default each id has its own directory
    # (store.claim also refuses a directory another id owns).
    if "dataDir" not in cfg:
        from datadir import dir_name
        cfg["dataDir"] = "state/" + dir_name(sid)
    dd = _need(cfg, "dataDir", (str,), "a directory path")
    if not dd or len(dd) > 200:
        raise ConfigError("'dataDir' must be a path of 1..200 characters")
    _need(cfg, "vendor", (str,), "a string")
    _need(cfg, "model", (str,), "a string")
    vers = _need(cfg, "ocppVersions", (list,), "a list such as [\"2.1\", \"2.0.1\"]")
    if not vers or any(v not in ("2.1", "2.0.1") for v in vers):
        raise ConfigError("'ocppVersions' may hold only \"2.1\" and \"2.0.1\"")
    pw = cfg.get("basicAuthPassword")
    if pw is not None and (type(pw) is not str or not (16 <= len(pw) <= 40)):
        raise ConfigError("'basicAuthPassword' must be a string of 16..40 characters")
    ev = _need(cfg, "evses", (list,), "a list of connector counts, e.g. [1, 2]")
    if not ev or any(type(n) is not int or not 1 <= n <= 8 for n in ev):
        raise ConfigError("'evses' must list 1..8 connectors per EVSE")
    for k in ("heartbeatInterval", "messageTimeout", "retryBackOffWaitMinimum",
              "retryBackOffRandomRange", "retryBackOffRepeatTimes", "maxMessageSize",
              "reportItemsPerPart"):
        if type(cfg[k]) is not int or cfg[k] < 0:
            raise ConfigError("'%s' must be a non-negative integer" % k)
    if cfg["maxMessageSize"] < 1024 or cfg["reportItemsPerPart"] < 1:
        raise ConfigError("'maxMessageSize' must be >= 1024 and 'reportItemsPerPart' >= 1")
    tls = url.startswith("wss://")
    if tls:
        _need(cfg, "caFile", (str,), "the path of the CA certificate (DER or PEM) for wss://")
    prof = cfg.setdefault("securityProfile", 2 if tls else 1)
    if prof not in (1, 2):
        # Profile 3 (TLS client certificate) is not built yet.
        raise ConfigError("'securityProfile' must be 1 or 2")
    if prof >= 2 and not tls:
        raise ConfigError("security profile %d needs a wss:// csmsUrl" % prof)
    ext = _need(cfg, "extensions", (list,), "a list of package names, e.g. [\"diag\"]")
    if any(e not in ("diag",) for e in ext):
        raise ConfigError("'extensions' may hold only \"diag\"")
    if type(cfg["production"]) is not bool:
        raise ConfigError("'production' must be true or false")
    if "allowIntrusive" in cfg and type(cfg["allowIntrusive"]) is not bool:
        raise ConfigError("'allowIntrusive' must be true or false")
    rules = cfg.get("complianceRules")
    if rules is not None and (type(rules) is not str or len(rules) > 1000):
        raise ConfigError("'complianceRules' must be a string of at most 1000 characters")
    _targets(cfg.get("diagTargets"))
    if cfg["logLevel"] not in ("debug", "info", "warn"):
        raise ConfigError("'logLevel' must be debug, info or warn")
    if "meter" in cfg:
        _meter(cfg["meter"])
    for k in ("serialNumber", "firmwareVersion", "startupTests", "diagVendorId"):
        if k in cfg and type(cfg[k]) is not str:
            raise ConfigError("'%s' must be a string" % k)
    if "healthCheckInterval" in cfg and (type(cfg["healthCheckInterval"]) is not int or cfg["healthCheckInterval"] < 0):
        raise ConfigError("'healthCheckInterval' must be a non-negative integer")
    t = cfg.get("diagTests")
    if t is not None and (type(t) is not list or any(type(x) is not str or not 0 < len(x) <= 36 for x in t)):
        raise ConfigError("'diagTests' must be a list of test ids")
    _network(cfg)
    return cfg


# Network bring-up on a board (lib/netup.py, run by boot.py).
_ETH_INT = (("mdc", 0, 99), ("mdio", 0, 99), ("power", 0, 99), ("phyAddr", 0, 31))


def _network(cfg):
    w, e = cfg.get("wifi"), cfg.get("ethernet")
    if w is not None and e is not None:
        raise ConfigError("give 'wifi' or 'ethernet', not both")
    if w is not None:
        if type(w) is not dict:
            raise ConfigError("'wifi' must be an object, e.g. {\"ssid\": \"depot\", \"password\": \"...\"}")
        for k in w:
            v = w[k]
            lim = {"ssid": (1, 32), "password": (0, 64), "hostname": (1, 32)}.get(k)
            if lim is None:
                raise ConfigError("'wifi.%s' is not a Wi-Fi setting (ssid, password, hostname)" % k)
            # Lengths in UTF-8 bytes: an SSID is 0..32 octets (IEEE 802.11), not characters.
            if type(v) is not str or not lim[0] <= len(v.encode()) <= lim[1]:
                raise ConfigError("'wifi.%s' must be a string of %d..%d bytes" % (k, lim[0], lim[1]))
        if "ssid" not in w:
            raise ConfigError("'wifi.ssid' is missing")
    if e is not None:
        if type(e) is not dict:
            raise ConfigError("'ethernet' must be an object, e.g. {\"phy\": \"LAN8720\", \"mdc\": 23, \"mdio\": 18}")
        for k in e:
            v = e[k]
            if k == "phy":
                if type(v) is not str or not 0 < len(v) <= 16 or not all(c.isalpha() or c.isdigit() for c in v):
                    raise ConfigError("'ethernet.phy' must be a PHY name such as LAN8720")
                continue
            for name, lo, hi in _ETH_INT:
                if k == name:
                    if type(v) is not int or not lo <= v <= hi:
                        raise ConfigError("'ethernet.%s' must be an integer %d..%d" % (k, lo, hi))
                    break
            else:
                raise ConfigError("'ethernet.%s' is not an Ethernet setting (phy, phyAddr, mdc, mdio, power)" % k)
    n = cfg.get("networkTimeout", 20)
    if type(n) is not int or not 1 <= n <= 600:
        raise ConfigError("'networkTimeout' must be an integer 1..600 (seconds)")
    s = cfg.get("ntpServer")
    if s is not None and (type(s) is not str or not 0 < len(s) <= 100):
        raise ConfigError("'ntpServer' must be \"host[:port]\"")
    f = cfg.get("ifconfig")
    if f is not None and (type(f) is not list or len(f) != 4 or any(type(x) is not str for x in f)):
        raise ConfigError("'ifconfig' must be [ip, netmask, gateway, dns] (strings)")


_TARGET_LISTS = ("ntpServers", "ntsServers", "ntsCaFiles", "dnsNames", "tcpEndpoints")


def _targets(t):
    # What the integration tests check (diag/targets.py): lists of strings, and
    # dnsResolver "ip[:port]". Commas separate entries in the device model.
    if t is None:
        return
    if type(t) is not dict:
        raise ConfigError("'diagTargets' must be an object")
    for k in t:
        v = t[k]
        if k == "dnsResolver":
            ok = type(v) is str
        elif k in _TARGET_LISTS:
            ok = type(v) is list and all(type(x) is str and x and "," not in x for x in v)
        else:
            raise ConfigError("'diagTargets' has no key '%s' (%s, dnsResolver)" % (k, ", ".join(_TARGET_LISTS)))
        if not ok:
            raise ConfigError("'diagTargets.%s' must be %s" % (
                k, "a string" if k == "dnsResolver" else "a list of non-empty strings without commas"))


# The energy meter's line (README, "meter"). Unknown keys are refused: a typo would
# otherwise fall back to a default without a word.
_METER_INT = (("uart", 0, 9), ("tx", 0, 99), ("rx", 0, 99), ("de", 0, 99), ("unitId", 1, 247),
              ("stopBits", 1, 2), ("port", 1, 65535))
_METER_ENUM = (("transport", ("rtu", "tcp")), ("parity", ("N", "E", "O")))
_METER_STR = ("device", "host")


def _meter(m):
    if type(m) is not dict:
        raise ConfigError("'meter' must be an object, e.g. {\"device\": \"/dev/ttyUSB0\"}")
    for k in m:
        v = m[k]
        if k in _METER_STR:
            if type(v) is not str or not 0 < len(v) <= 100:
                raise ConfigError("'meter.%s' must be a string of 1..100 characters" % k)
            continue
        if k == "baud":
            from model.meter import BAUDS
            if v not in BAUDS or type(v) is not int:
                raise ConfigError("'meter.baud' must be one of %s" % ", ".join(str(b) for b in BAUDS))
            continue
        for name, allowed in _METER_ENUM:
            if k == name:
                if v not in allowed:
                    raise ConfigError("'meter.%s' must be one of %s" % (k, ", ".join(allowed)))
                break
        else:
            for name, lo, hi in _METER_INT:
                if k == name:
                    if type(v) is not int or not lo <= v <= hi:
                        raise ConfigError("'meter.%s' must be an integer %d..%d" % (k, lo, hi))
                    break
            else:
                raise ConfigError("'meter.%s' is not a meter setting" % k)
