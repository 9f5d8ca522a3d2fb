"""Evidence reports: what a report holds so that an auditor can check it offline, and the
check itself (docs/diagnostics/SPEC.md, DG19).

A report (JSON) files results under the station they came from:

    {"format": "ocpp-diagnostics-evidence/1", "generatedAt", "generatedBy", "window",
     "stations": [{"stationId", "resultIds": [...], "count", "digest",
                   "results": [{"resultId", ..., "result": <exactly as the station sent it>}]}]}

`resultIds` lists, ascending, every result of the station in the window; `digest` is
SHA-256 over the canonical text (section 11) of each result in that order, each followed
by a newline. A station allocates resultIds consecutively, so a result dropped from inside
the window leaves a gap that `verify_report` names, even when whoever dropped it also
edited `resultIds`, `count` and `digest`.

    from ocppdiag.evidence import verify_report
    failures, stats = verify_report(report, keys)   # keys: station id -> {keyId: hex key}

Each failure is {"station", "resultId" (None for the station as a whole), "reason"}.
Any input is handled: a hostile report never raises here.
"""
import hashlib

from .checksum import canonical, verify as checksum_ok
from .signing import verify as signature_check

FORMAT = "ocpp-diagnostics-evidence/1"


def digest(results):
    """SHA-256 (hex) over the canonical text of each result, in order, newline-ended."""
    h = hashlib.sha256()
    for r in results:
        h.update(canonical(r).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def seal_station(section):
    """Add resultIds, count and digest to a station's section (its results in
    ascending resultId order): what the report's generator does."""
    payloads = [e["result"] for e in section["results"]]
    section["resultIds"] = [r["resultId"] for r in payloads]
    section["count"] = len(payloads)
    section["digest"] = digest(payloads)
    return section


def verify_report(report, keys=None, allow_unsigned=False):
    """-> (failures, stats). With `keys` (station id -> {keyId: key}), every result
    must carry a signature that verifies under a key of the station it is filed under
    (unsigned ones fail unless `allow_unsigned`); without keys, checksums and
    completeness only."""
    fails = []
    stats = {"stations": 0, "results": 0, "signed": 0, "signatureChecked": 0}
    if not isinstance(report, dict) or report.get("format") != FORMAT:
        return [_fail(None, None, "not an evidence report (format %r)" % (
            report.get("format") if isinstance(report, dict) else type(report).__name__))], stats
    sections = report.get("stations")
    if not isinstance(sections, list):
        return [_fail(None, None, "no list of stations")], stats
    named = report.get("stationIds")
    if named is not None and named != [s.get("stationId") for s in sections
                                       if isinstance(s, dict)]:
        # A station left out of a fleet report leaves its name behind (or the other way).
        fails.append(_fail(None, None, "stationIds %r do not match the station sections" % (
            named,)))
    keys = _keys(keys, fails) if keys is not None else None
    seen = set()
    for section in sections:
        if not isinstance(section, dict) or not isinstance(section.get("stationId"), str):
            fails.append(_fail(None, None, "a station section without a stationId"))
            continue
        sid = section["stationId"]
        if sid in seen:
            fails.append(_fail(sid, None, "station listed twice"))
        seen.add(sid)
        stats["stations"] += 1
        _station(section, sid, keys, allow_unsigned, fails, stats)
    return fails, stats


def _fail(sid, rid, reason):
    return {"station": sid, "resultId": rid, "reason": reason}


def _keys(keys, fails):
    """Keys file -> station -> {keyId: bytes}; a malformed entry is a failure, not a crash."""
    out = {}
    if not isinstance(keys, dict):
        fails.append(_fail(None, None, "keys: not an object of station id -> {keyId: hex key}"))
        return out
    for sid, ks in keys.items():
        if not isinstance(ks, dict):
            fails.append(_fail(sid, None, "keys: not an object of keyId -> hex key"))
            continue
        out[sid] = {}
        for kid, hx in ks.items():
            try:
                out[sid][kid] = bytes.fromhex(hx)
            except (TypeError, ValueError):
                fails.append(_fail(sid, None, "keys: key %r is not hexadecimal" % kid))
    return out


def _station(section, sid, keys, allow_unsigned, fails, stats):
    entries = section.get("results")
    if not isinstance(entries, list):
        fails.append(_fail(sid, None, "no list of results"))
        return
    if keys is not None and sid not in keys:
        fails.append(_fail(sid, None, "no key for this station in the keys file"))
    present, payloads = [], []
    for e in entries:
        r = e.get("result") if isinstance(e, dict) else None
        rid = r.get("resultId") if isinstance(r, dict) else None
        if not isinstance(rid, int) or isinstance(rid, bool):
            fails.append(_fail(sid, None, "an entry that is not a result"))
            continue
        stats["results"] += 1
        if rid in present:
            fails.append(_fail(sid, rid, "filed twice"))
        present.append(rid)
        payloads.append(r)
        if isinstance(e.get("resultId"), int) and e["resultId"] != rid:
            fails.append(_fail(sid, rid, "filed as resultId %s" % e["resultId"]))
        _result(r, sid, rid, keys, allow_unsigned, fails, stats)
    _completeness(section, sid, present, payloads, fails)


def _result(r, sid, rid, keys, allow_unsigned, fails, stats):
    if not checksum_ok(r):
        fails.append(_fail(sid, rid, "checksum mismatch: the result was changed after the "
                                     "station made it"))
        return
    if r.get("signature") is not None:
        stats["signed"] += 1
    if keys is None or sid not in keys:
        return
    ok, why = signature_check(r, keys[sid], require_signature=not allow_unsigned)
    if ok:
        stats["signatureChecked"] += 1 if r.get("signature") is not None else 0
        return
    if r.get("signature") is not None:
        # Whose key did sign it? A result signed by another station is not this one's.
        for other, ks in keys.items():
            if other != sid and signature_check(r, ks)[0]:
                why = "signed with the key of station %s, not of %s" % (other, sid)
                break
    fails.append(_fail(sid, rid, why))


def _completeness(section, sid, present, payloads, fails):
    listed = section.get("resultIds")
    if not (isinstance(listed, list) and all(isinstance(i, int) for i in listed)):
        fails.append(_fail(sid, None, "no list of resultIds"))
        listed = []
    if present != sorted(present):
        fails.append(_fail(sid, None, "results not in resultId order"))
    have = set(present)
    for rid in listed:
        if rid not in have:
            fails.append(_fail(sid, rid, "listed in the report but missing"))
    for rid in sorted(have - set(listed)):
        fails.append(_fail(sid, rid, "present but not in the report's list of resultIds"))
    if section.get("count") != len(listed):
        fails.append(_fail(sid, None, "count %r but %d resultIds listed" % (
            section.get("count"), len(listed))))
    ids = sorted(have | set(listed))
    for a, b in zip(ids, ids[1:]):
        # Consecutive ids at the station: a hole inside the window is a dropped result.
        for rid in range(a + 1, min(b, a + 1001)):
            fails.append(_fail(sid, rid, "missing: a gap between results %d and %d" % (a, b)))
    try:
        ok = section.get("digest") == digest(payloads)
    except (TypeError, ValueError, RecursionError):
        ok = False
    if not ok:
        fails.append(_fail(sid, None, "digest mismatch: the results are not those the "
                                      "report was generated with"))
