# Results signed at the source (SPEC DG16): HMAC-SHA256 (RFC 2104) with a
# per-station key that the CSMS provisions write-only through the device model,
#   DiagnosticsCtrlr.ResultSigningKey = "<keyId>:<key as 64..128 hex digits>"
# (one value, so that a key and its id can never be half-set by a SetVariables that
# carries only one of them). The checksum stays for integrity; the signature adds
# origin: a CSMS or console that alters a result cannot recompute it.
#
# Signed bytes: the canonical text (result.canonical, SPEC section 11) of the result
# without `checksum`, its `signature` without `value`, so that the key id and the
# algorithm are covered too. The checksum is then computed as
# before, over everything but itself, the signature included.
#
# MicroPython has hashlib.sha256 but no hmac module on every port: this is the
# whole of HMAC. The padded key is one 64-byte buffer XORed in place, and the
# message goes to the hash token by token: nothing is allocated per byte, and the
# canonical text of a result is never built.
import binascii
import hashlib
import json

from micropython import const

ALG = "HMAC-SHA256"
SKEY = "dm/DiagnosticsCtrlr/ResultSigningKey"  # the device model's store key (devmodel._skey)
_BLOCK = const(64)  # SHA-256 block size
_KEY_MIN = const(32)  # RFC 2104 section 3: keys shorter than the hash output weaken it
_KEY_MAX = const(64)  # longer keys are hashed down to 32 bytes anyway
_ID_MAX = const(36)
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"


def hmac_sha256(key, msg=None, feed=None):
    """RFC 2104 HMAC with SHA-256 -> 32 bytes. key: bytes; the message is msg (bytes
    or str) or whatever feed(hash) writes to the hash, piece by piece."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    pad = bytearray(_BLOCK)
    pad[:len(key)] = key
    for i in range(_BLOCK):
        pad[i] ^= 0x36
    h = hashlib.sha256(pad)
    if feed is None:
        h.update(msg)
    else:
        feed(h)
    inner = h.digest()
    for i in range(_BLOCK):
        pad[i] ^= 0x6A  # 0x36 ^ 0x5C: the inner pad becomes the outer one
    h = hashlib.sha256(pad)
    h.update(inner)
    return h.digest()


def parse_key(value):
    """A ResultSigningKey value -> (keyId, key bytes), or the reasonCode (str)
    that refuses it. The CSMS is hostile: length, characters and hex are checked
    before anything is decoded."""
    if type(value) is not str or len(value) > _ID_MAX + 1 + 2 * _KEY_MAX:
        return "ValueTooLarge"
    i = value.find(":")
    kid = value[:i]
    hx = value[i + 1:]
    if i < 1 or i > _ID_MAX or not _KEY_MIN * 2 <= len(hx) <= _KEY_MAX * 2 or len(hx) % 2:
        return "InvalidValue"
    for c in kid:
        if c not in _ID_CHARS:  # also refuses every non-ASCII character
            return "InvalidValue"
    for c in hx:
        if c not in "0123456789abcdefABCDEF":
            return "InvalidValue"
    return kid, binascii.unhexlify(hx)


def current(store):
    """The station's key as (keyId, key bytes), or None when none is set (or the
    stored one is unreadable: results are then unsigned, never refused)."""
    k = parse_key(store.get(SKEY))
    return k if type(k) is tuple else None


def _put(h, x):
    # The canonical text of x (result.canonical, SPEC section 11) written to hash h
    # a token at a time: nothing bigger than one string value is ever built.
    t = type(x)
    if t is dict:
        sep = "{"
        for k in sorted(x):
            h.update(sep)
            h.update(json.dumps(k))
            h.update(":")
            _put(h, x[k])
            sep = ","
        h.update("{}" if sep == "{" else "}")
    elif t is list or t is tuple:
        sep = "["
        for v in x:
            h.update(sep)
            _put(h, v)
            sep = ","
        h.update("[]" if sep == "[" else "]")
    elif t is float:
        from diag.result import float_text
        h.update(float_text(x))
    else:
        h.update(json.dumps(x))


def _feed(h, r, sig):
    """Write the canonical text of result r, without checksum, with `signature`
    sig, to hash h."""
    sep = "{"
    for k in sorted(r):
        if k == "checksum" or k == "signature":
            continue
        if sig is not None and k > "signature":
            h.update(sep)
            h.update('"signature":')
            _put(h, sig)
            sep = ","
            sig = None
        h.update(sep)
        h.update(json.dumps(k))
        h.update(":")
        _put(h, r[k])
        sep = ","
    if sig is not None:
        h.update(sep)
        h.update('"signature":')
        _put(h, sig)
    h.update("}")


def _hex(b):
    return binascii.hexlify(b).decode()


def _macs(r, sig, key):
    """-> (HMAC of r signed with sig, its checksum once sig has its value: a
    function). Two walks over the result, no copy of it and no canonical text."""
    unsigned = {k: sig[k] for k in sig if k != "value"}
    mac = _hex(hmac_sha256(key, feed=lambda h: _feed(h, r, unsigned)))

    def checksum(full):
        h = hashlib.sha256()
        _feed(h, r, full)
        return _hex(h.digest())
    return mac, checksum


def seal(r, key):
    """Add `signature` (key: (keyId, bytes)) and then `checksum` to result r."""
    sig = {"algorithm": ALG, "keyId": key[0]}
    sig["value"], checksum = _macs(r, sig, key[1])
    r["signature"] = sig
    r["checksum"] = checksum(sig)


def check(r, key):
    """None if journaled result r is intact, else what failed: "checksum", or
    "signature" when it names the station's current key and does not match. A
    result signed with an older key can only be checked by a verifier that keeps
    that key (tools/ocppdiag/signing.py); the station keeps only the current one."""
    sig = r.get("signature")
    if type(sig) is not dict or not key or sig.get("keyId") != key[0]:
        # Unsigned, signed under another key, or no key here: the checksum alone.
        from diag.result import checksum
        if r.get("checksum") != checksum(r):
            return "checksum"
        if sig is None or type(sig) is dict and sig.get("algorithm") == ALG and type(
                sig.get("keyId")) is str:
            return None
        return "signature"
    if sig.get("algorithm") != ALG:
        return "signature"
    mac, checksum = _macs(r, sig, key[1])
    if r.get("checksum") != checksum(sig):
        return "checksum"
    return None if sig.get("value") == mac else "signature"
