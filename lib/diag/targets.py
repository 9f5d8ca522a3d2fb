# DiagnosticsTargets: what the integration tests check (NTP and NTS servers, the
# DNS resolver and names, TCP endpoints, the NTS root CAs), in the device model so
# that a CSMS reads and changes them with GetVariables / SetVariables. Defaults
# come from the config's "diagTargets"; a test parameter overrides them per run.
# Lists are comma-separated: "host[:port],host[:port]".
from model.devmodel import Component

_TABLE = """
NtpServers||s|RW|||500|||
NtsServers||s|RW|||500|||
NtsCaFiles||s|RW|||500|||
DnsResolver||s|RW|||100|||
DnsNames||s|RW|||500|||
TcpEndpoints||s|RW|||500|||"""

# Variable -> its key in the config's "diagTargets".
_CFG = ("NtpServers", "ntpServers", "NtsServers", "ntsServers", "NtsCaFiles", "ntsCaFiles",
        "DnsResolver", "dnsResolver", "DnsNames", "dnsNames", "TcpEndpoints", "tcpEndpoints")


def install(agent):
    cfg = agent.cfg.get("diagTargets") or {}

    def get(var, inst):
        v = cfg.get(_CFG[_CFG.index(var) + 1])
        if v is None:
            return None
        return ",".join(v) if type(v) is list else v

    agent.dm.add(Component("DiagnosticsTargets", _TABLE, get=get))


def get(ctx, param, var):
    """The list a test works on: its parameter when given, else the device
    model's DiagnosticsTargets.<var> (config default or SetVariables value)."""
    v = ctx.p.get(param)
    if v is None:
        v = ctx.agent.dm.get("DiagnosticsTargets", var) or ""
    return [x.strip() for x in v.split(",") if x.strip()]


def resolver(ctx):
    """(ip, port) of the configured DNS resolver, or None (then names are looked
    up with the blocking getaddrinfo)."""
    r = get(ctx, "resolver", "DnsResolver")
    if not r:
        return None
    from net.sock import split_hostport
    return split_hostport(r[0], 53)


def key(name, target):
    # Per-target measurements are named "<measure>@<target>" (schema: 50 characters).
    return (name + "@" + target)[:50]
