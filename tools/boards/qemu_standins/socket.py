# Stand-in for the qemu port only: it has no network stack at all. This models a station
# whose link is down: names resolve to themselves, every connection is unreachable.
import errno as _errno

# The port's errno table is short: names it lacks get their Linux numbers.
EADDRNOTAVAIL = getattr(_errno, "EADDRNOTAVAIL", 99)
EHOSTUNREACH = getattr(_errno, "EHOSTUNREACH", 113)
EINVAL = _errno.EINVAL

AF_INET = 2
AF_INET6 = 10
SOCK_STREAM = 1
SOCK_DGRAM = 2
IPPROTO_TCP = 6
IPPROTO_UDP = 17
SOL_SOCKET = 1
SO_REUSEADDR = 2


def inet_ntop(af, b):
    if af == AF_INET:
        return "%d.%d.%d.%d" % tuple(b)
    return ":".join("%x" % (b[i] << 8 | b[i + 1]) for i in range(0, 16, 2))


def inet_pton(af, s):
    if af == AF_INET:
        p = [int(x) for x in s.split(".")]
        if len(p) != 4 or not all(0 <= x < 256 for x in p):
            raise OSError(EINVAL)
        return bytes(p)
    raise OSError(EINVAL)  # IPv6 literals: not needed where there is no network


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    return [(AF_INET, type or SOCK_STREAM, proto, "", (host, port))]


class socket:
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0):
        pass

    def setblocking(self, flag):
        pass

    def settimeout(self, t):
        pass

    def setsockopt(self, *a):
        pass

    def bind(self, addr):
        raise OSError(EADDRNOTAVAIL)  # no interface

    def connect(self, addr):
        raise OSError(EHOSTUNREACH)  # no route: the link is down

    def sendto(self, data, addr):
        raise OSError(EHOSTUNREACH)

    def close(self):
        pass
