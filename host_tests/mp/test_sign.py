# Result signatures (diag/sign.py, SPEC DG16), run inside MicroPython: HMAC-SHA256
# against the RFC 4231 test vectors, key parsing, signing and the start-up check.
import binascii
import os

from unit import TMP, remove_dir, run

from diag import sign
from diag.journal import Journal
from diag.result import checksum, seal

# RFC 4231 section 4: (key, data, HMAC-SHA-256); case 5 is truncated to 128 bits.
_VECTORS = (
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\x0c" * 20, b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than block-size data. "
     b"The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
)

_HEX = "00112233445566778899aabbccddeeff" * 2  # 32 bytes
_KEY = ("k-2026.1", binascii.unhexlify(_HEX))
_DIR = TMP + "/mp_unit_sign"


def _result():
    return {"resultId": 7, "testId": "memory", "testType": "SelfTest", "requestor": "opérateur ☃",
            "trigger": "OnDemand", "startTime": "2026-11-29T10:00:00Z", "endTime": "2026-11-29T10:00:01Z",
            "verdict": "Passed", "evidence": "Größe ok — 測試",
            "measurement": [{"name": "freeBytes", "value": 0.812, "unit": "B"}]}


class _Store:
    def __init__(self, value):
        self.d = {sign.SKEY: value}

    def get(self, k, default=None):
        return self.d.get(k, default)


class _Agent:
    def __init__(self, value):
        self.store = _Store(value)


def test_rfc4231_vectors():
    for key, data, want in _VECTORS:
        got = binascii.hexlify(sign.hmac_sha256(key, data)).decode()
        assert got[:len(want)] == want, (key, got)


def test_hmac_does_not_allocate_per_byte():
    import gc
    import micropython
    key = _KEY[1]
    small = b"x" * 64
    big = b"x" * 8192
    sign.hmac_sha256(key, small)  # warm up
    gc.collect()
    t = micropython.mem_total()
    sign.hmac_sha256(key, small)
    a_small = micropython.mem_total() - t
    t = micropython.mem_total()
    sign.hmac_sha256(key, big)
    a_big = micropython.mem_total() - t
    # 8 KB more message, the same few hash objects and digests.
    assert a_big - a_small < 256, (a_small, a_big)


def test_keys_parse_and_hostile_ones_are_refused():
    assert sign.parse_key("k-2026.1:" + _HEX) == _KEY
    assert sign.parse_key("A:" + _HEX.upper()) == ("A", _KEY[1])
    assert sign.parse_key("x" * 36 + ":" + "ab" * 64)[0] == "x" * 36
    for bad in ("", ":", _HEX, ":" + _HEX, "k1:" + _HEX[:-2], "k1:" + _HEX + "a", "k1:" + "zz" * 32,
                "k1:" + _HEX + ":", "clé:" + _HEX, "k 1:" + _HEX, "k1:" + "é" * 64, "x" * 37 + ":" + _HEX,
                "k1:" + "ab" * 65, "k1:" + _HEX[:-1] + "\u0660", None, 5):
        assert type(sign.parse_key(bad)) is str, bad
    assert sign.parse_key("k1:" + "a" * 1000) == "ValueTooLarge"


def test_sealed_result_is_signed_and_checked():
    r = _result()
    seal(r, _Agent("k-2026.1:" + _HEX))
    sig = r["signature"]
    assert sig["algorithm"] == "HMAC-SHA256" and sig["keyId"] == "k-2026.1" and len(sig["value"]) == 64
    assert r["checksum"] == checksum(r)  # the checksum covers the signature
    assert sign.check(r, _KEY) is None
    assert sign.check(r, None) is None  # no key: the checksum alone
    assert sign.check(r, ("other", b"\x01" * 32)) is None  # another key id: not checkable here
    # The same result without a key: unsigned.
    u = _result()
    seal(u, _Agent(None))
    assert "signature" not in u and u["checksum"] == checksum(u)
    seal(_result(), None)


def test_signature_is_the_one_the_cpython_verifier_computes():
    # Known answer from tools/ocppdiag/signing.py (CPython json, repr floats) for
    # _result(): non-ASCII text and a float MicroPython would print with 17 digits.
    r = _result()
    seal(r, _Agent("k-2026.1:" + _HEX))
    assert r["signature"]["value"] == "69f3fd5595e7e863322fb993ebef2403119f69d529fa1fd3e56f714a1d489d87"
    assert r["checksum"] == "0949dd8af047892292006590c2add4614fd4a787e7f828ca21939a8443cc0f6d"


def test_a_changed_byte_fails():
    r = _result()
    seal(r, _Agent("k-2026.1:" + _HEX))
    r["verdict"] = "Failed"
    assert sign.check(r, _KEY) == "checksum"
    r["checksum"] = checksum(r)  # whoever rewrote it recomputed the checksum too
    assert sign.check(r, _KEY) == "signature"
    r = _result()
    seal(r, _Agent("k-2026.1:" + _HEX))
    r["measurement"][0]["value"] = 0.813
    r["checksum"] = checksum(r)
    assert sign.check(r, _KEY) == "signature"
    r = _result()
    seal(r, _Agent("k-2026.1:" + _HEX))
    r["signature"]["keyId"] = "k-2026.2"  # the key id is signed too
    r["checksum"] = checksum(r)
    assert sign.check(r, ("k-2026.2", _KEY[1])) == "signature"
    r["signature"] = "forged"
    r["checksum"] = checksum(r)
    assert sign.check(r, _KEY) == "signature"


def _clean():
    remove_dir(_DIR)


def _line(rec):
    import json
    body = json.dumps(rec).encode()
    return body + b" " + ("%08x" % (binascii.crc32(body) & 0xFFFFFFFF)).encode() + b"\n"


def test_journal_start_names_altered_results():
    _clean()
    os.mkdir(_DIR)
    good, bad_sig, bad_sum, flipped = _result(), _result(), _result(), _result()
    for i, r in enumerate((good, bad_sig, bad_sum, flipped)):
        r["resultId"] = i + 1
        seal(r, _Agent("k-2026.1:" + _HEX))
    bad_sig["verdict"] = "Failed"
    bad_sig["checksum"] = checksum(bad_sig)
    bad_sum["evidence"] = "edited"
    line = _line(flipped)
    line = line.replace(b'"Passed"', b'"Failed"')  # CRC now wrong, JSON still whole
    with open(_DIR + "/results.log", "wb") as f:
        f.write(_line(good) + _line(bad_sig) + _line(bad_sum) + line + b'{"resultId": 9, "te')
    j = Journal(_DIR, check=lambda r: sign.check(r, _KEY))
    assert j.ids == [1], j.ids
    assert j.tampered == [(2, "signature"), (3, "checksum"), (4, "crc")], j.tampered
    # Rewritten without them; the next start finds nothing more to report.
    j2 = Journal(_DIR, check=lambda r: sign.check(r, _KEY))
    assert j2.ids == [1] and j2.tampered == []
    _clean()


run(globals())
