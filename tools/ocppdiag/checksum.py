"""A result's checksum (SPEC.md section 11): SHA-256 of the canonical JSON of the
result without its `checksum` field.  Verified on arrival; a result that does not
verify is still acknowledged (else the station sends it forever) but marked."""

import hashlib
import json
import re

_HEX64 = re.compile(r"[0-9a-f]{64}")


def canonical(obj):
    """The canonical text: keys sorted, no whitespace, only the escapes JSON requires,
    numbers as the shortest decimal that reads back; exactly CPython's json.dumps
    with these options (SPEC.md section 11)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def compute(result):
    """The checksum a station must have put into `result` (a dict as parsed)."""
    body = {k: v for k, v in result.items() if k != "checksum"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def verify(result):
    """True when result["checksum"] matches its content.  Never raises on bad input:
    a result that cannot even be canonicalised does not verify."""
    if not isinstance(result, dict):
        return False
    given = result.get("checksum")
    if not isinstance(given, str) or not _HEX64.fullmatch(given):
        return False
    try:
        return compute(result) == given
    except (ValueError, TypeError, RecursionError):  # NaN, odd types, deep nesting
        return False
