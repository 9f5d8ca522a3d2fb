# Non-blocking sockets for asyncio: connect with a timeout that tells a refused
# port from a silent one, and awaitables for "readable" / "writable". Nothing
# here blocks the event loop; the caller closes the socket (in a finally).
import asyncio
import socket
from micropython import const

_EINPROGRESS = const(115)
_EALREADY = const(114)
_EISCONN = const(106)  # Linux and lwIP use the same numbers
_ECONNREFUSED = const(111)
_ETIMEDOUT = const(110)
_EHOSTUNREACH = const(113)
_ENETUNREACH = const(101)


class NetError(Exception):
    """kind: refused, timeout, unreachable, error; text says what happened."""

    def __init__(self, kind, text):
        super().__init__(text)
        self.kind = kind


def _io():
    from asyncio import core
    return core._io_queue  # the scheduler's poller: waiting on it costs no task


def readable(s):
    # A generator the scheduler understands (as asyncio's own streams do).
    yield _io().queue_read(s)


def writable(s):
    yield _io().queue_write(s)


def split_hostport(text, default_port):
    """'host', 'host:port', '[v6]:port', 'scheme://host:port/...' -> (host, port)."""
    t = text.strip()
    i = t.find("://")
    if i >= 0:
        t = t[i + 3:]
    j = t.find("/")
    if j >= 0:
        t = t[:j]
    port = default_port
    if t.startswith("["):
        k = t.find("]")
        host, tail = t[1:k], t[k + 1:]
        if tail.startswith(":"):
            port = int(tail[1:])
    elif t.count(":") == 1:
        host, p = t.split(":")
        port = int(p)
    else:
        host = t  # a name, an IPv4 literal or a bare IPv6 literal
    if not host or not 0 < port < 65536:
        raise ValueError("bad host:port %r" % text)
    return host, port


def family_of(host):
    """AF_INET / AF_INET6 for an address literal, None for a name."""
    for fam in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(fam, host)
            return fam
        except (OSError, ValueError):
            pass
    return None


def sockaddr(ip, port, stype=socket.SOCK_STREAM):
    # getaddrinfo on an address literal parses it without any lookup, on the unix
    # port and on lwIP alike, and gives the address in the form connect() wants.
    fam = family_of(ip)
    for ai in socket.getaddrinfo(ip, port, 0, stype):
        if ai[0] == fam:
            return fam, ai[-1]
    raise NetError("error", "no address for %s" % ip)


def _kind(e):
    n = e.errno if hasattr(e, "errno") else (e.args[0] if e.args else 0)
    if n == _ECONNREFUSED:
        return "refused"
    if n == _ETIMEDOUT:
        return "timeout"
    if n in (_EHOSTUNREACH, _ENETUNREACH):
        return "unreachable"
    return "error"


async def connect(ip, port, timeout_ms):
    """A connected non-blocking TCP socket, or NetError(refused | timeout |
    unreachable | error). The caller closes the socket."""
    fam, addr = sockaddr(ip, port)
    s = socket.socket(fam, socket.SOCK_STREAM)
    ok = False
    try:
        s.setblocking(False)
        try:
            s.connect(addr)
        except OSError as e:
            if e.errno != _EINPROGRESS:
                raise NetError(_kind(e), "%s:%d: %s" % (ip, port, e))
        try:
            await asyncio.wait_for_ms(writable(s), timeout_ms)
        except asyncio.TimeoutError:
            raise NetError("timeout", "%s:%d: no answer within %d ms" % (ip, port, timeout_ms))
        # A second connect() reports the outcome (there is no getsockopt(SO_ERROR)).
        try:
            s.connect(addr)
        except OSError as e:
            if e.errno not in (_EISCONN, _EALREADY):
                raise NetError(_kind(e), "%s:%d: %s" % (ip, port, _name(e)))
        ok = True
        return s
    finally:
        if not ok:
            s.close()


def _name(e):
    k = _kind(e)
    return "connection refused" if k == "refused" else str(e)
