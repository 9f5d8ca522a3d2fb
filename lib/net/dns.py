# A small non-blocking DNS stub resolver (RFC 1035) for the dns test and for
# names the other integration tests must resolve: one question per query over
# UDP to the configured resolver, the answer's ID and question checked against
# ours (a stray or spoofed datagram is ignored, not believed), retries on
# silence, and TCP when the answer comes back truncated (TC bit, RFC 7766).
import asyncio
import os
import socket
import time
from micropython import const

A = const(1)
AAAA = const(28)
_CNAME = const(5)
_IN = const(1)
_RD = const(0x0100)
_TC = const(0x0200)
_QR = const(0x8000)
RCODES = ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED")


class DnsError(Exception):
    """kind: name (not a valid host name), timeout, refused, format, tcp."""

    def __init__(self, kind, text):
        super().__init__(text)
        self.kind = kind


class Answer:
    def __init__(self):
        self.rcode = 0
        self.addrs = []  # address literals, in answer order
        self.ttl = None  # smallest TTL of the address records
        self.ms = 0  # time from first query to the answer used
        self.tries = 0
        self.tcp = False  # answered over TCP after a truncated UDP answer

    def rcode_name(self):
        return RCODES[self.rcode] if self.rcode < len(RCODES) else "RCODE%d" % self.rcode


def printable(name):
    """`name` with anything outside printable ASCII as \\uXXXX: safe in any
    report, whatever the transport does with non-ASCII text."""
    out = ""
    for ch in name:
        o = ord(ch)
        out += ch if 32 <= o < 127 else "\\u%04x" % o
    return out


def encode_name(name):
    """Host name -> wire labels. Non-ASCII is refused: IDNA (punycode) is not
    done here, so the name the operator typed would not be the one asked for."""
    try:
        raw = name.encode()
    except Exception:
        raise DnsError("name", "not a text name")
    for c in raw:
        if c > 127:
            raise DnsError("name", "not ASCII (write internationalised names in punycode, xn--...)")
    raw = raw.rstrip(b".")
    if not raw or len(raw) > 253:
        raise DnsError("name", "empty or longer than 253 characters")
    out = bytearray()
    for label in raw.split(b"."):
        if not 0 < len(label) < 64:
            raise DnsError("name", "a label is empty or longer than 63 characters")
        out.append(len(label))
        out += label
    out.append(0)
    return bytes(out)


def query(qid, qname, qtype):
    return (qid.to_bytes(2, "big") + _RD.to_bytes(2, "big") + b"\x00\x01\x00\x00\x00\x00\x00\x00"
            + qname + qtype.to_bytes(2, "big") + _IN.to_bytes(2, "big"))


def _u16(b, i):
    return (b[i] << 8) | b[i + 1]


def _skip_name(b, i):
    while True:
        n = b[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:  # compression pointer ends the name
            return i + 2
        i += n + 1


def parse(msg, qid, qname, qtype, ans):
    """Fill `ans` from a response; False when it is not the answer to our
    question (wrong ID, not a response, other question), True otherwise.
    Returns None when truncated (TC set): ask again over TCP."""
    if len(msg) < 12 or _u16(msg, 0) != qid:
        return False
    flags = _u16(msg, 2)
    if not flags & _QR or _u16(msg, 4) != 1:
        return False
    end = 12 + len(qname)
    # Compare the question case-insensitively: resolvers may echo 0x20-mixed case.
    if bytes(msg[12:end]).lower() != qname.lower() or msg[end:end + 4] != query(0, b"", qtype)[-4:]:
        return False
    if flags & _TC:
        return None
    ans.rcode = flags & 15
    i = end + 4
    for _ in range(_u16(msg, 6)):
        i = _skip_name(msg, i)
        rtype, ttl, rdlen = _u16(msg, i), int.from_bytes(msg[i + 4:i + 8], "big"), _u16(msg, i + 8)
        i += 10
        rd = msg[i:i + rdlen]
        i += rdlen
        if i > len(msg):
            raise DnsError("format", "answer cut short")
        if rtype == qtype and rdlen == (4 if qtype == A else 16):
            ans.addrs.append(socket.inet_ntop(socket.AF_INET if qtype == A else socket.AF_INET6, rd))
            ans.ttl = ttl if ans.ttl is None else min(ans.ttl, ttl)
    return True


async def _udp(fam, addr, qid, q, timeout_ms, sock):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        s.setblocking(False)
        # Connected: only the resolver's datagrams reach us, and a closed port
        # comes back as ECONNREFUSED (ICMP) instead of a silent timeout.
        s.connect(addr)
        s.send(q)
        deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
        while True:
            left = time.ticks_diff(deadline, time.ticks_ms())
            if left <= 0:
                return None
            try:
                await asyncio.wait_for_ms(sock.readable(s), left)
            except asyncio.TimeoutError:
                return None
            try:
                msg = s.recv(1232)
            except OSError as e:
                if e.errno == 111:
                    raise DnsError("refused", "resolver port closed (ICMP port unreachable)")
                if e.errno == 11:
                    continue
                raise
            return msg
    finally:
        s.close()


async def _tcp(ip, port, q, timeout_ms, sock):
    s = await sock.connect(ip, port, timeout_ms)
    try:
        st = asyncio.StreamReader(s)
        st.write(len(q).to_bytes(2, "big") + q)
        await asyncio.wait_for_ms(st.drain(), timeout_ms)
        n = int.from_bytes(await asyncio.wait_for_ms(st.readexactly(2), timeout_ms), "big")
        return await asyncio.wait_for_ms(st.readexactly(n), timeout_ms)
    finally:
        s.close()


async def lookup(server, name, qtype, timeout_ms=1000, tries=3):
    """Ask `server` (ip, port) for `name`'s A or AAAA records -> Answer.
    Raises DnsError(name | timeout | refused | format | tcp)."""
    from net import sock
    qname = encode_name(name)
    fam, addr = sock.sockaddr(server[0], server[1], socket.SOCK_DGRAM)
    ans = Answer()
    t0 = time.ticks_ms()
    for n in range(tries):
        ans.tries = n + 1
        qid = int.from_bytes(os.urandom(2), "big")
        q = query(qid, qname, qtype)
        msg = await _udp(fam, addr, qid, q, timeout_ms, sock)
        if msg is None:
            continue
        got = parse(msg, qid, qname, qtype, ans)
        if got is False:
            continue  # not ours: ask again
        if got is None:
            ans.tcp = True
            try:
                msg = await _tcp(server[0], server[1], q, timeout_ms, sock)
            except (OSError, EOFError, asyncio.TimeoutError, sock.NetError) as e:
                raise DnsError("tcp", "answer truncated (TC) and the TCP retry failed: %s" % (str(e) or type(e).__name__))
            if not parse(msg, qid, qname, qtype, ans):
                raise DnsError("tcp", "answer truncated (TC) and the TCP answer does not match the question")
        ans.ms = time.ticks_diff(time.ticks_ms(), t0)
        return ans
    raise DnsError("timeout", "no answer from %s:%d after %d tries of %d ms" % (server[0], server[1], tries, timeout_ms))


async def address(host, resolver, timeout_ms=1000):
    """An address literal for `host`: as is when it is one; else A (then AAAA)
    from `resolver` (ip, port); with no resolver, socket.getaddrinfo, which
    BLOCKS the event loop for as long as the system resolver takes."""
    from net import sock
    if sock.family_of(host):
        return host
    if resolver:
        for qt in (A, AAAA):
            ans = await lookup(resolver, host, qt, timeout_ms, 2)
            if ans.addrs:
                return ans.addrs[0]
        raise DnsError("name", "%s: %s, no address" % (host, ans.rcode_name()))
    encode_name(host)
    ai = socket.getaddrinfo(host, 0)
    fam = ai[0][0]
    raw = ai[0][-1]
    # The unix port gives a raw sockaddr: the address sits at bytes 4..8 (IPv4)
    # or 8..24 (IPv6); lwIP ports give an (ip, port) tuple.
    if type(raw) is tuple:
        return raw[0]
    return socket.inet_ntop(fam, raw[4:8] if fam == socket.AF_INET else raw[8:24])
