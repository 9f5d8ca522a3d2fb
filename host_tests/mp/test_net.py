# The parsers of lib/net/ on hand-made and damaged input, inside MicroPython:
# what a hostile or broken peer sends must be ignored or refused, never believed
# and never crash the agent.
from unit import raises, run

from net import dns, sntp, sock, x509


def test_split_hostport():
    assert sock.split_hostport("ntp.example:1123", 123) == ("ntp.example", 1123)
    assert sock.split_hostport("ntp://10.0.0.1", 123) == ("10.0.0.1", 123)
    assert sock.split_hostport("[::1]:4460", 4460) == ("::1", 4460)
    assert sock.split_hostport("fd00::5", 53) == ("fd00::5", 53)
    raises(ValueError, sock.split_hostport, "host:0", 1)
    raises(ValueError, sock.split_hostport, "host:x", 1)


def _answer(qid, qname, qtype, flags=0x8180, rdata=b"\x0a\x00\x00\x01", ttl=60):
    rr = b"\xc0\x0c" + qtype.to_bytes(2, "big") + b"\x00\x01" + ttl.to_bytes(4, "big") \
        + len(rdata).to_bytes(2, "big") + rdata
    return (qid.to_bytes(2, "big") + flags.to_bytes(2, "big") + b"\x00\x01\x00\x01\x00\x00\x00\x00"
            + qname + qtype.to_bytes(2, "big") + b"\x00\x01" + rr)


def test_dns_answer_checked_against_question():
    qn = dns.encode_name("svc.test")
    a = dns.Answer()
    assert dns.parse(_answer(7, qn, dns.A), 7, qn, dns.A, a) is True
    assert a.addrs == ["10.0.0.1"] and a.ttl == 60 and a.rcode == 0
    # Wrong ID, another question, a query instead of a response: not ours.
    assert dns.parse(_answer(8, qn, dns.A), 7, qn, dns.A, dns.Answer()) is False
    assert dns.parse(_answer(7, dns.encode_name("evil.test"), dns.A), 7, qn, dns.A, dns.Answer()) is False
    assert dns.parse(_answer(7, qn, dns.A, flags=0x0100), 7, qn, dns.A, dns.Answer()) is False
    # Case-mixed echo (0x20) is the same question; TC asks for TCP.
    assert dns.parse(_answer(7, dns.encode_name("SVC.Test"), dns.A), 7, qn, dns.A, dns.Answer()) is True
    assert dns.parse(_answer(7, qn, dns.A, flags=0x8380), 7, qn, dns.A, dns.Answer()) is None
    a = dns.Answer()
    dns.parse(_answer(7, qn, dns.A, flags=0x8183, rdata=b""), 7, qn, dns.A, a)
    assert a.rcode_name() == "NXDOMAIN"
    # A record that claims more data than the datagram holds.
    raises(dns.DnsError, dns.parse, _answer(7, qn, dns.A)[:-2], 7, qn, dns.A, dns.Answer())


def test_dns_names():
    assert dns.encode_name("a.b.") == b"\x01a\x01b\x00"
    for bad in ("", "a..b", "x" * 64 + ".test", "b\u00fccher.test"):
        e = raises(dns.DnsError, dns.encode_name, bad)
        assert e.kind == "name"
    assert dns.printable("b\u00fccher") == "b\\u00fccher"


def _reply(sent, stratum=2, refid=b"GPS\x00", mode=4, leap=0):
    p = bytearray(48)
    p[0] = (leap << 6) | (4 << 3) | mode
    p[1] = stratum
    p[12:16] = refid
    p[24:32] = sent
    p[32:40] = sent
    p[40:48] = sent
    return bytes(p)


def test_sntp_reply_checks():
    t1 = sntp.now_us()
    sent = sntp._to_ts(t1)
    r = sntp.parse(_reply(sent), sent, t1, t1 + 2000)
    assert r.stratum == 2 and r.delay_us == 2000 and -1002 <= r.offset_us <= -998
    # A reply that does not echo our transmit time, or is not from a server: ignored.
    assert sntp.parse(_reply(b"\x00" * 8), sent, t1, t1) is None
    assert sntp.parse(_reply(sent, mode=3), sent, t1, t1) is None
    assert sntp.parse(_reply(sent)[:40], sent, t1, t1) is None
    e = raises(sntp.SntpError, sntp.parse, _reply(sent, stratum=0, refid=b"DENY"), sent, t1, t1)
    assert e.kind == "kod" and "DENY" in str(e)


def test_x509_rejects_garbage():
    for bad in (b"", b"\x30", b"\x30\x84\xff\xff\xff\xff", b"\x04\x02ab", b"\x30\x03\x02\x01\x01"):
        raises(x509.X509Error, x509.parse, bad)
    assert x509.days_from_civil(1970, 1, 1) == 0
    assert x509.days_from_civil(2000, 3, 1) == 11017
    assert x509.days_from_civil(9999, 12, 31) == 2932896


run(globals())
