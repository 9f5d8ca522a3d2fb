# The validity window of an X.509 certificate, read straight from its DER: all the
# security test needs to warn before the CSMS CA expires (mbedTLS checks dates only
# while connecting, and then it is too late). Not a certificate parser: no
# signatures, no extensions.
import time


def _tlv(b, i):
    """-> (tag, start of the value, end of the value) of the DER element at i."""
    tag = b[i]
    n = b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if not 0 < k <= 4:
            raise ValueError("bad DER length")
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    if i + n > len(b):
        raise ValueError("truncated DER")
    return tag, i, i + n


def _time(b, tag, s, e):
    t = bytes(b[s:e]).decode()
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ: 50..99 are 19xx (RFC 5280 4.1.2.5.1)
        y = int(t[0:2])
        t = ("19" if y >= 50 else "20") + t
    elif tag != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise ValueError("not a time")
    if len(t) != 15 or t[14] != "Z":
        raise ValueError("time not in UTC")
    return time.mktime((int(t[0:4]), int(t[4:6]), int(t[6:8]), int(t[8:10]), int(t[10:12]),
                        int(t[12:14]), 0, 0))


def validity(der):
    """(notBefore, notAfter) in epoch seconds (time.mktime's epoch, as clock.now()).
    Raises ValueError when `der` is not a certificate."""
    try:
        b = memoryview(der)
        tag, s, _ = _tlv(b, 0)  # Certificate
        tag2, s, _ = _tlv(b, s)  # tbsCertificate
        if tag != 0x30 or tag2 != 0x30:
            raise ValueError("not a certificate")
        tag, _, e = _tlv(b, s)
        if tag == 0xA0:  # [0] version, absent in v1 certificates
            tag, _, e = _tlv(b, e)
        for _ in range(2):  # past serialNumber: signature, issuer
            tag, _, e = _tlv(b, e)
        tag, s, e = _tlv(b, e)  # validity
        if tag != 0x30:
            raise ValueError("no validity")
        t1, s1, e1 = _tlv(b, s)
        t2, s2, e2 = _tlv(b, e1)
        return _time(b, t1, s1, e1), _time(b, t2, s2, e2)
    except IndexError:
        raise ValueError("truncated DER")
