# Network bring-up on a board, run once by boot.py before main.py: Wi-Fi
# (network.WLAN: ESP32, Pico W) or Ethernet (network.LAN) from the config's `wifi`
# or `ethernet` section, a bounded wait for the link, then the clock set by NTP so
# that a wss:// certificate's validity can be judged (a board starts in 2000 or
# 1970). Every step has a timeout and any failure is printed and passed over:
# main.py must start anyway, and the agent reconnects on its own once a link is
# there. Blocking is fine here: no event loop runs yet.
import time

from micropython import const

_POLL_MS = const(100)
_NTP_TRIES = const(3)


def _say(msg, *args):
    print("netup: " + (msg % args if args else msg))


def _pin(n):
    from machine import Pin
    return Pin(n)


def _lan(network, e):
    # network.LAN's arguments differ per port: ESP32 needs the PHY and its pins
    # (mdc, mdio, power, phy_type, phy_addr); STM32 or i.MX RT boards take none.
    kw = {}
    if "phy" in e:
        kw["phy_type"] = getattr(network, "PHY_" + e["phy"])
    if "phyAddr" in e:
        kw["phy_addr"] = e["phyAddr"]
    for k in ("mdc", "mdio", "power"):
        if k in e:
            kw[k] = _pin(e[k])
    return network.LAN(**kw)


def _failed(network, nic):
    # A Wi-Fi status that will not get better by waiting: say which, stop now.
    st = nic.status() if hasattr(nic, "status") else None
    for name in ("STAT_WRONG_PASSWORD", "STAT_NO_AP_FOUND", "STAT_CONNECT_FAIL"):
        v = getattr(network, name, None)
        if v is not None and st == v:
            return name[5:].lower().replace("_", " ")
    return None


def up(cfg):
    """Bring up the interface the config names; -> the interface once it has a
    link, or None (no section, no `network` module, timeout, failure)."""
    w, e = cfg.get("wifi"), cfg.get("ethernet")
    if w is None and e is None:
        return None
    try:
        import network
    except ImportError:
        _say("this port has no network module; nothing to bring up")
        return None
    timeout = cfg.get("networkTimeout", 20)
    try:
        if w is not None:
            if "hostname" in w and hasattr(network, "hostname"):
                network.hostname(w["hostname"])
            nic = network.WLAN(network.STA_IF)
            nic.active(True)
            if "ifconfig" in cfg:
                nic.ifconfig(tuple(cfg["ifconfig"]))
            nic.connect(w["ssid"], w.get("password", ""))
            what = "Wi-Fi %s" % w["ssid"]
        else:
            nic = _lan(network, e)
            nic.active(True)
            if "ifconfig" in cfg:
                nic.ifconfig(tuple(cfg["ifconfig"]))
            what = "Ethernet"
    except Exception as x:  # a wrong PHY name, a pin this board lacks, a driver error
        _say("cannot start %s: %s: %s", "Wi-Fi" if w is not None else "Ethernet", type(x).__name__, x)
        return None
    t0 = time.ticks_ms()
    while not nic.isconnected():
        why = _failed(network, nic)
        if why:
            _say("%s: %s; main.py starts without a link", what, why)
            return None
        if time.ticks_diff(time.ticks_ms(), t0) >= timeout * 1000:
            _say("%s: no link after %d s; main.py starts, the agent retries on its own", what, timeout)
            return None
        time.sleep_ms(_POLL_MS)
    _say("%s up: %s", what, nic.ifconfig()[0])
    return nic


def _set_rtc(t):
    import machine
    tm = time.gmtime(t)
    # RTC.datetime: (year, month, day, weekday 1-7, hours, minutes, seconds, subseconds),
    # as ntptime.settime writes it.
    machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0))


def set_clock(cfg):
    """Set the clock from `ntpServer` ("host[:port]", default pool.ntp.org): with
    ntptime where the firmware has it, else the agent's own SNTP client. -> True
    when set. Needed before wss:// (certificate dates); with ws:// the agent takes
    the CSMS time from BootNotification and this is skipped unless ntpServer is set."""
    host = cfg.get("ntpServer")
    if host is None and not cfg.get("csmsUrl", "").startswith("wss://"):
        return False
    host = host or "pool.ntp.org"
    port = 123
    if host.count(":") == 1:
        host, port = host.split(":")
        port = int(port)
    try:
        import ntptime
    except ImportError:
        ntptime = None
    try:
        if ntptime is not None and port == 123:
            ntptime.host = host
            ntptime.settime()
        else:
            _sntp(host, port)
    except Exception as x:  # no answer, no DNS, no RTC: wss:// will say what it thinks
        _say("clock not set from %s: %s: %s", host, type(x).__name__, x)
        return False
    _say("clock set from %s: %04d-%02d-%02dT%02d:%02d:%02dZ", host, *time.gmtime()[:6])
    return True


def _sntp(host, port):
    import asyncio
    import socket
    from net import sntp
    ip = socket.getaddrinfo(host, port)[0][-1]
    ip = ip[0] if type(ip) is tuple else socket.inet_ntop(socket.AF_INET, ip[4:8])
    r = asyncio.run(sntp.query(ip, port, 1000, _NTP_TRIES))
    _set_rtc(time.time() + (r.offset_us + 500000) // 1000000)


def main(path="config.json"):
    """boot.py's one call. Never raises."""
    try:
        import config
        try:
            cfg = config.load(path)
        except config.ConfigError as x:
            _say("config error: %s; no network brought up", x)
            return None
        nic = up(cfg)
        if nic is not None:
            set_clock(cfg)
        return nic
    except Exception as x:
        _say("%s: %s", type(x).__name__, x)
        return None
