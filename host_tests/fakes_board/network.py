# Test double of a board's `network` module (host_tests/test_netup.py puts this
# directory first on MICROPYPATH): records what lib/netup.py asks of it. The
# constants have the names of the ESP32 / rp2 ports; their values do not matter.
STA_IF = 0
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_GOT_IP = 3
STAT_WRONG_PASSWORD = -3
STAT_NO_AP_FOUND = -2
STAT_CONNECT_FAIL = -1
PHY_LAN8720 = 1
PHY_IP101 = 2

calls = []
polls_to_link = 2  # isconnected() turns True after this many polls; None: never
status = STAT_CONNECTING


class _Nic:
    def __init__(self, kind, kw):
        calls.append((kind, kw))
        self.polls = 0
        self.cfg = ("192.0.2.7", "255.255.255.0", "192.0.2.1", "192.0.2.1")

    def active(self, on):
        calls.append(("active", on))

    def connect(self, ssid, password):
        calls.append(("connect", ssid, password))

    def isconnected(self):
        self.polls += 1
        return polls_to_link is not None and self.polls > polls_to_link

    def status(self):
        return status

    def ifconfig(self, c=None):
        if c is None:
            return self.cfg
        calls.append(("ifconfig", c))
        self.cfg = c


def WLAN(iface):
    return _Nic("WLAN", {"iface": iface})


def LAN(**kw):
    return _Nic("LAN", kw)


def hostname(h):
    calls.append(("hostname", h))
