"""Throw-away network peers on loopback high ports for the integration tests
(host_tests/test_diag_integration.py) and the benchmark: Debian's chronyd as NTP
and NTS-KE server, dnsmasq as DNS resolver, and small Python servers for what a
real server will not do on request (skewed clock, kiss-of-death, truncated DNS
answers, a silent port, a full TCP backlog, a TLS 1.2 NTS-KE front).

Nothing here touches the machine: chronyd runs with -x (never sets the clock),
both daemons bind to 127.0.0.1 / ::1 only, keep their files in a temp directory
and run as root only because the tests do (-u root / --user=root: no privilege
drop to a user that may not exist).
"""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time

NTP_DELTA = 2208988800  # 1900 -> 1970


def free_port(kind=socket.SOCK_STREAM):
    """A port free for both TCP and UDP on 127.0.0.1 right now."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        try:
            with socket.socket(socket.AF_INET, other) as s:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue


def sntp_query(port, host="127.0.0.1", timeout=1.0):
    """CPython SNTP client: (stratum, offset seconds) or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        pkt = bytearray(48)
        pkt[0] = 0x23
        t1 = time.time()
        pkt[40:48] = _ts(t1)
        try:
            s.sendto(bytes(pkt), (host, port))
            msg = s.recv(128)
        except OSError:
            return None
        t4 = time.time()
        t2, t3 = _from_ts(msg[32:40]), _from_ts(msg[40:48])
        return msg[1], ((t2 - t1) + (t3 - t4)) / 2


def _ts(t):
    sec = int(t) + NTP_DELTA
    return struct.pack("!II", sec & 0xFFFFFFFF, int((t % 1) * 2 ** 32))


def _from_ts(b):
    sec, frac = struct.unpack("!II", b)
    return sec - NTP_DELTA + frac / 2 ** 32


def _wait(pred, timeout, what, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    text = open(log).read()[-2000:] if log and os.path.exists(log) else ""
    raise RuntimeError("%s did not come up:\n%s" % (what, text))


class _Proc:
    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


class Chrony(_Proc):
    """chronyd -x as NTP server (local stratum 8); with cert/key also NTS-KE."""

    def __init__(self, dir, cert=None, key=None):
        self.dir = dir
        self.port = free_port(socket.SOCK_DGRAM)
        self.nts_port = free_port() if cert else None
        self.cert, self.key = cert, key
        self.proc = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "chrony.conf")
        lines = ["port %d" % self.port, "bindaddress 127.0.0.1", "bindaddress ::1",
                 "allow 127.0.0.1", "local stratum 8", "cmdport 0",
                 "pidfile %s" % os.path.join(self.dir, "chronyd.pid"),
                 "driftfile %s" % os.path.join(self.dir, "drift")]
        if self.cert:
            # NTS-KE listens on [::] unless an IPv6 bindaddress is given (::1 above).
            dump = os.path.join(self.dir, "nts")
            os.makedirs(dump, exist_ok=True)
            lines += ["ntsport %d" % self.nts_port, "ntsserverkey %s" % self.key,
                      "ntsservercert %s" % self.cert, "ntsdumpdir %s" % dump]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log_path = os.path.join(self.dir, "chronyd.log")
        self.proc = subprocess.Popen([shutil.which("chronyd") or "/usr/sbin/chronyd", "-x", "-d", "-u", "root",
                                      "-f", conf], stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)
        _wait(lambda: sntp_query(self.port, timeout=0.2) is not None, 10, "chronyd", self.proc, self.log_path)
        if self.cert:
            _wait(lambda: _tcp_open(self.nts_port), 10, "chronyd NTS-KE", self.proc, self.log_path)
        return self


def _tcp_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


class Dnsmasq(_Proc):
    """dnsmasq as a resolver for the zone .test only (--local: unknown names there
    get NXDOMAIN); records: [(name, [addresses])]."""

    def __init__(self, dir, records, ttl=300):
        self.dir = dir
        self.port = free_port(socket.SOCK_DGRAM)
        self.records = records
        self.ttl = ttl
        self.proc = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.log_path = os.path.join(self.dir, "dnsmasq.log")
        cmd = [shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "-k", "--no-resolv", "--no-hosts",
               "--port", str(self.port), "--listen-address", "127.0.0.1", "--bind-interfaces",
               "--user=root", "--pid-file=" + os.path.join(self.dir, "dnsmasq.pid"),
               "--local=/test/", "--local-ttl=%d" % self.ttl, "--log-facility=-", "--conf-file=/dev/null"]
        for name, addrs in self.records:
            cmd.append("--host-record=%s,%s" % (name, ",".join(addrs)))
        self.proc = subprocess.Popen(cmd, stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)
        _wait(lambda: "started" in self.log(), 10, "dnsmasq", self.proc, self.log_path)
        return self


class _Thread:
    def start(self):
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self._stop = True
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.thread.join(5)


class FakeNtp(_Thread):
    """A small SNTP server: answers with its clock shifted by `skew` seconds, or a
    kiss-of-death (stratum 0, refid `kiss`), or (silent=True) never."""

    def __init__(self, skew=0.0, kiss=None, silent=False, stratum=2, leap=0):
        self.skew, self.kiss, self.silent, self.stratum, self.leap = skew, kiss, silent, stratum, leap
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.2)
        self.port = s.getsockname()[1]
        self.socks = [s]
        self.queries = 0

    def _serve(self):
        s = self.socks[0]
        while not self._stop:
            try:
                msg, addr = s.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            if self.silent or len(msg) < 48:
                continue
            now = time.time() + self.skew
            out = bytearray(48)
            out[0] = (self.leap << 6) | (4 << 3) | 4
            out[1] = 0 if self.kiss else self.stratum
            out[2], out[3] = 6, 0xEC
            out[4:8] = struct.pack("!I", 0x00000800)  # root delay 1/32 s
            out[8:12] = struct.pack("!I", 0x00000400)  # root dispersion 1/64 s
            out[12:16] = self.kiss.encode() if self.kiss else b"GPS\x00"
            out[16:24] = _ts(now - 10)
            out[24:32] = msg[40:48]
            out[32:40] = _ts(now)
            out[40:48] = _ts(time.time() + self.skew)
            s.sendto(bytes(out), addr)


class TruncatingDns(_Thread):
    """Answers every UDP query with TC set and no records; over TCP (same port)
    with the full answer: `addr` (A queries) / `addr6` (AAAA)."""

    def __init__(self, addr="10.7.7.7", addr6="fd00::7", ttl=120):
        self.addr, self.addr6, self.ttl = addr, addr6, ttl
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        port = free_port(socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", port))
        u.settimeout(0.2)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("127.0.0.1", port))
        t.listen(4)
        t.settimeout(0.2)
        self.port = port
        self.socks = [u, t]
        self.udp_queries = self.tcp_queries = 0

    def _answer(self, q, full):
        qid, flags = q[:2], 0x8180 | (0 if full else 0x0200)
        end = 12
        while q[end]:
            end += q[end] + 1
        question = q[12:end + 5]
        qtype = struct.unpack("!H", q[end + 1:end + 3])[0]
        rr = b""
        if full and qtype in (1, 28):
            data = socket.inet_pton(socket.AF_INET if qtype == 1 else socket.AF_INET6,
                                    self.addr if qtype == 1 else self.addr6)
            rr = b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, self.ttl, len(data)) + data
        return qid + struct.pack("!HHHHH", flags, 1, 1 if rr else 0, 0, 0) + question + rr

    def _serve(self):
        u, t = self.socks
        while not self._stop:
            try:
                q, addr = u.recvfrom(512)
                self.udp_queries += 1
                u.sendto(self._answer(q, False), addr)
            except socket.timeout:
                pass
            except OSError:
                return
            try:
                c, _ = t.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with c:
                c.settimeout(2)
                n = struct.unpack("!H", c.recv(2))[0]
                q = b""
                while len(q) < n:
                    q += c.recv(n - len(q))
                self.tcp_queries += 1
                a = self._answer(q, True)
                c.sendall(struct.pack("!H", len(a)) + a)


class SilentUdp:
    """A bound UDP port that reads nothing and answers nothing (a dead server
    behind an open port: the client can only time out)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def stop(self):
        self.sock.close()


class FullBacklog:
    """A TCP port that never completes a handshake: a listener with backlog 0
    whose accept queue is filled and never drained, so Linux drops further SYNs,
    as a filtering firewall would (no RST, no answer). Used for "filtered":
    the agent and the CSMS share the host's loopback, so a DROP rule in a network
    namespace could not sit between them without touching the host's network."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fill = []
        for _ in range(2):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", self.port))
            self.fill.append(c)
        time.sleep(0.2)

    def stop(self):
        for s in self.fill + [self.sock]:
            s.close()


class TlsFront(_Thread):
    """A TLS server that accepts TLS 1.2 (and offers ALPN ntske/1), with the given
    certificate: what MicroPython's TLS can complete a handshake with, so that the
    nts test's chain verification is exercised. It answers nothing after the
    handshake (it is not an NTS-KE server)."""

    def __init__(self, cert, key):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["ntske/1"])
        ctx.load_cert_chain(cert, key)
        self.ctx = ctx
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        s.settimeout(0.2)
        self.port = s.getsockname()[1]
        self.socks = [s]
        self.handshakes = 0
        self.errors = []

    def _serve(self):
        s = self.socks[0]
        while not self._stop:
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                c.settimeout(3)
                tc = self.ctx.wrap_socket(c, server_side=True)
                self.handshakes += 1
                tc.recv(64)
                tc.close()
            except (OSError, ssl.SSLError) as e:
                self.errors.append(str(e))
                c.close()


class HealthyPeers:
    """One healthy peer for each integration test (chronyd with NTS-KE, dnsmasq,
    a TCP listener) and the config's "diagTargets" that points the agent at them:
    what the benchmark runs every test against.

        with HealthyPeers(dir) as hp:
            cfg["diagTargets"] = hp.targets
    """

    def __init__(self, dir):
        import certs  # tools/certs.py
        self.dir = dir
        pki = os.path.join(dir, "pki")
        self.ca = certs.make_ca(pki, name="Bench Root")
        srv = certs.make_server_cert(pki, self.ca)
        self.chrony = Chrony(os.path.join(dir, "chrony"), cert=srv.cert, key=srv.key)
        self.dns = Dnsmasq(os.path.join(dir, "dns"), [("svc.test", ["127.0.0.1", "::1"])])
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(64)
        self.targets = None

    def __enter__(self):
        self.chrony.start()
        self.dns.start()
        self.targets = {
            "ntpServers": ["127.0.0.1:%d" % self.chrony.port],
            "ntsServers": ["127.0.0.1:%d" % self.chrony.nts_port],
            "ntsCaFiles": [self.ca.der],
            "dnsResolver": "127.0.0.1:%d" % self.dns.port,
            "dnsNames": ["svc.test"],
            "tcpEndpoints": ["127.0.0.1:%d" % self.tcp.getsockname()[1]]}
        return self

    def __exit__(self, *exc):
        self.chrony.stop()
        self.dns.stop()
        self.tcp.close()
