"""Offline verification of diagnostics results (docs/diagnostics/SPEC.md, section 11
and DG16): the checksum (integrity) and the HMAC-SHA256 signature (origin) a station
adds with the key the CSMS provisioned through ``DiagnosticsCtrlr.ResultSigningKey``.

    from ocppdiag.signing import verify
    ok, reason = verify(result, {"k-2026.1": bytes.fromhex("...")})

The canonical text is the agent's (lib/diag/result.py): CPython's
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``; the
agent prints floats as CPython's repr does, so that both ends write the same bytes.

Signed bytes: the canonical text of the result without ``checksum``, its ``signature``
without ``value``. The checksum covers everything but itself,
the whole signature included.

A verifier keeps every key it ever provisioned, by key id: a result keeps the key id
it was signed with, so rotating the key leaves older results verifiable.

As a command (e.g. on a GetLog DiagnosticsLog upload, one result per line):

    python tools/ocppdiag/signing.py KEYS.json RESULTS.ndjson [--require-signature]

KEYS.json is ``{"keyId": "hex key", ...}``; exit code 0 when every result verifies,
1 otherwise, each failing result named on its own line.
"""

import hashlib
import hmac
import json
import re

ALGORITHM = "HMAC-SHA256"
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,36}\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")

__all__ = ["ALGORITHM", "canonical", "checksum", "signed_bytes", "sign", "verify",
           "key_value", "parse_key_value"]


def canonical(obj):
    """The canonical JSON text (SPEC section 11)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def checksum(result):
    """SHA-256, lowercase hex, of the canonical result without ``checksum``."""
    body = {k: v for k, v in result.items() if k != "checksum"}
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def signed_bytes(result):
    """The bytes the station's HMAC covers."""
    body = {k: v for k, v in result.items() if k not in ("checksum", "signature")}
    body["signature"] = {k: v for k, v in result["signature"].items() if k != "value"}
    return canonical(body).encode()


def _key_bytes(key):
    return bytes.fromhex(key) if isinstance(key, str) else bytes(key)


def sign(result, key_id, key):
    """Sign ``result`` as a station does (for tests and simulators): adds
    ``signature`` and recomputes ``checksum``. Returns the result."""
    result.pop("checksum", None)
    result["signature"] = {"algorithm": ALGORITHM, "keyId": key_id}
    value = hmac.new(_key_bytes(key), signed_bytes(result), hashlib.sha256).hexdigest()
    result["signature"]["value"] = value
    result["checksum"] = checksum(result)
    return result


def verify(result, keys, require_signature=False):
    """-> (True, "ok") or (False, what failed): "not a result", "checksum mismatch",
    "unsigned" (with require_signature), "malformed signature", "unsupported
    algorithm ...", "unknown key id ...", "signature mismatch".

    ``keys``: key id -> key (bytes, or a hex string). Any input is handled: a result
    from a hostile peer never raises here."""
    if not isinstance(result, dict) or not isinstance(result.get("resultId"), int):
        return False, "not a result"
    try:
        if not isinstance(result.get("checksum"), str) or not hmac.compare_digest(
                result["checksum"], checksum(result)):
            return False, "checksum mismatch"
    except (TypeError, ValueError):  # NaN, or objects JSON cannot hold
        return False, "not a result"
    sig = result.get("signature")
    if sig is None:
        return (False, "unsigned") if require_signature else (True, "ok (unsigned)")
    if (not isinstance(sig, dict) or not {"algorithm", "keyId", "value"} <= set(sig)
            or not set(sig) <= {"algorithm", "keyId", "value", "customData"}
            or not isinstance(sig["keyId"], str) or not isinstance(sig["value"], str)
            or not _HEX64.match(sig["value"])):
        return False, "malformed signature"
    if sig["algorithm"] != ALGORITHM:
        return False, "unsupported algorithm %r" % (sig["algorithm"],)
    key = keys.get(sig["keyId"])
    if key is None:
        return False, "unknown key id %r" % sig["keyId"]
    want = hmac.new(_key_bytes(key), signed_bytes(result), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig["value"]):
        return False, "signature mismatch (key id %r)" % sig["keyId"]
    return True, "ok"


def key_value(key_id, key):
    """The SetVariables value of DiagnosticsCtrlr.ResultSigningKey."""
    if not _KEY_ID.match(key_id):
        raise ValueError("a key id is 1..36 of A-Z a-z 0-9 . _ -")
    key = _key_bytes(key)
    if not 32 <= len(key) <= 64:
        raise ValueError("a key is 32..64 bytes")
    return "%s:%s" % (key_id, key.hex())


def parse_key_value(value):
    """"<keyId>:<hex>" -> (key id, key bytes); ValueError when it is not one."""
    key_id, _, hx = value.partition(":")
    if not _KEY_ID.match(key_id) or not re.fullmatch(r"(?:[0-9a-fA-F]{2}){32,64}", hx):
        raise ValueError("not <keyId>:<64..128 hex digits>")
    return key_id, bytes.fromhex(hx)


def _main(argv):
    import sys
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__.split("\n\n")[-2].strip(), file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        keys = {k: bytes.fromhex(v) for k, v in json.load(f).items()}
    bad = n = 0
    with open(args[1], encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            n += 1
            try:
                r = json.loads(line)
            except ValueError:
                ok, why, rid = False, "not JSON", None
            else:
                ok, why = verify(r, keys, "--require-signature" in argv)
                rid = r.get("resultId") if isinstance(r, dict) else None
            if not ok:
                bad += 1
                print("line %d resultId %s: %s" % (lineno, rid, why))
    print("%d result(s), %d failed" % (n, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    import sys
    sys.exit(_main(sys.argv[1:]))
