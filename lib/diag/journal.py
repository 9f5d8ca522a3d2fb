# Results journal on flash: an append-only log, one record per line with a CRC32,
# so that a power cut in mid-write leaves at most one torn last line, which is
# detected and dropped at the next start. Any line that does not check (torn,
# garbage, bytes that are not UTF-8) is dropped with a warning: a corrupt journal
# never stops the station from starting.
# Records:
#   a result                    {"resultId": ..., ...}
#   an acknowledgement          {"ack": resultId}     (the CSMS has the result)
#   a run marker                {"run": first, "n": n, "tests": [...], ...}
# A run marker is written when a request is accepted, with the result ids reserved
# for its tests; a run whose results are not all in after a restart is finished by
# recover() (Aborted / Skipped, "station restarted"), so that every accepted
# request ends in results even across a power cut.
# Bounded: the log is rewritten (write-then-rename) keeping every pending result,
# the open run markers and the newest acknowledged results, at most once every
# `limit` appended lines so that a long backlog is not rewritten on every append.
# At the start each result is also checked (`check`: its checksum, its signature
# when it names the current key): a record that reads as a result but fails, or
# whose complete CRC does not match, was altered on flash (not torn by a power
# cut): it is dropped like a corrupt one and listed in `tampered` as
# (resultId, what failed), for a SecurityEventNotification (SPEC DG16).
import binascii
import json
import os

import log

_LIMIT = 64  # acknowledged results kept
_PENDING_MAX = 256  # pending results kept (oldest dropped beyond, with a warning)


def _crc(b):
    return "%08x" % (binascii.crc32(b) & 0xFFFFFFFF)


def _parse(line):
    """bytes line -> dict, or None when it is torn or corrupt in any way.
    MemoryError passes through: a record that does not fit the heap right now is
    not a corrupt one, and must not be dropped as if it were."""
    line = line.rstrip(b"\n")
    i = line.rfind(b" ")
    if i < 0 or len(line) - i != 9:
        return None
    body = line[:i]
    try:
        if _crc(body) != line[i + 1:].decode():
            return None
        rec = json.loads(body)
    except MemoryError:
        raise
    except Exception:  # UnicodeError, ValueError: corrupt
        return None
    if type(rec) is not dict:
        return None
    for k in ("resultId", "ack", "run"):
        if k in rec:
            return rec if type(rec[k]) is int else None
    return None


def _altered_id(line):
    """The result id of a line whose CRC is complete but wrong while its body still
    reads as a result (bits flipped or text edited), else None: a power cut tears
    a line, it does not leave a whole record with a wrong CRC."""
    line = line.rstrip(b"\n")
    i = line.rfind(b" ")
    if i < 0 or len(line) - i != 9:
        return None
    try:
        int(line[i + 1:], 16)
        rec = json.loads(line[:i])
    except MemoryError:
        raise
    except Exception:
        return None
    rid = rec.get("resultId") if type(rec) is dict else None
    return rid if type(rid) is int else None


class Journal:
    def __init__(self, dirname, limit=_LIMIT, check=None):
        self.path = dirname + "/results.log"
        self.check = check  # result -> None, or what failed ("checksum", ...)
        self.tampered = []  # (resultId, what failed) found at the start
        self.limit = limit
        self.ids = []  # result ids in order
        self.pending = []  # result ids not acknowledged, in order
        self.runs = {}  # first reserved id of an open run -> its number of tests
        self.last_id = 0
        self.lines = 0  # lines in the file
        self._due = limit  # compact when lines passes this
        self._scan()

    def _scan(self):
        bad = 0
        acked = set()
        seen = set()
        try:
            f = open(self.path, "rb")
        except OSError:
            return
        unreadable = 0
        with f:
            while True:
                line = None
                try:
                    line = f.readline()
                    rec = _parse(line) if line else None
                except MemoryError:
                    import gc
                    gc.collect()
                    try:
                        line = f.readline() if line is None else line
                        rec = _parse(line) if line else None
                    except MemoryError:
                        # Kept on flash (no compaction below), read again later.
                        unreadable += 1
                        self.lines += 1
                        continue
                if not line:
                    break
                self.lines += 1
                if rec is None:
                    bad += 1
                    rid = _altered_id(line)
                    if rid is not None:
                        self.tampered.append((rid, "crc"))
                elif "resultId" in rec and self._failed(rec):
                    bad += 1
                elif "ack" in rec:
                    acked.add(rec["ack"])
                elif "run" in rec:
                    n = rec.get("n")
                    if type(n) is int and n > 0:
                        self.runs[rec["run"]] = n
                        self.last_id = max(self.last_id, rec["run"] + n - 1)
                else:
                    rid = rec["resultId"]
                    if rid not in seen:
                        seen.add(rid)
                        self.ids.append(rid)
                    self.last_id = max(self.last_id, rid)
        self.pending = [r for r in self.ids if r not in acked]
        for first in list(self.runs):
            if all(r in seen for r in range(first, first + self.runs[first])):
                del self.runs[first]
        if self.tampered:
            log.warn("journal: result(s) failing the integrity check: %s", self.tampered)
        if unreadable:
            log.warn("journal: %d record(s) too big for the heap now, kept", unreadable)
        elif bad:
            log.warn("journal: %d torn or corrupt record(s) dropped", bad)
            self._compact(self.tampered and [t[0] for t in self.tampered])

    def _failed(self, rec):
        if self.check is None:
            return None
        try:
            why = self.check(rec)
        except MemoryError:  # not checked for lack of heap: kept, never taken for tampered
            return None
        if why:
            self.tampered.append((rec["resultId"], why))
        return why

    def _write_line(self, f, rec):
        body = json.dumps(rec).encode()
        f.write(body + b" " + _crc(body).encode() + b"\n")
        self.lines += 1

    def _append(self, rec):
        with open(self.path, "ab") as f:
            self._write_line(f, rec)

    def start_run(self, first, rec):
        """Journal a run marker (first reserved result id, tests...) before it runs."""
        rec["run"] = first
        self._append(rec)
        self.runs[first] = rec["n"]
        self.last_id = max(self.last_id, first + rec["n"] - 1)

    def append(self, result):
        self._append(result)
        rid = result["resultId"]
        self.ids.append(rid)
        self.pending.append(rid)
        self.last_id = max(self.last_id, rid)
        for first, n in self.runs.items():
            if first <= rid < first + n:
                if all(r in self.ids for r in range(first, first + n)):
                    del self.runs[first]
                break
        self._maybe_compact()

    def ack(self, rid):
        if rid not in self.pending:
            return
        self._append({"ack": rid})
        self.pending.remove(rid)
        self._maybe_compact()

    def _maybe_compact(self):
        if self.lines <= self._due:
            return
        try:
            self._compact()
        except Exception as e:  # MemoryError, a full filesystem: the records are safe
            log.warn("journal: compaction failed (%s: %s), retried later", type(e).__name__, e)
            self._due = self.lines + self.limit

    def records(self, kind="resultId"):
        """Yield every intact record of `kind` (resultId or run), oldest first, one
        at a time."""
        try:
            f = open(self.path, "rb")
        except OSError:
            return
        with f:
            while True:
                line = f.readline()
                if not line:
                    return
                rec = _parse(line)
                if rec is not None and kind in rec:
                    yield rec

    def get(self, rid):
        g = self.records()
        try:
            for r in g:
                if r["resultId"] == rid:
                    return r
            return None
        finally:
            g.close()  # closes the file now, not when the collector finds it

    def unfinished(self):
        """Run markers whose tests have not all got a result (after a restart)."""
        return [r for r in self.records("run") if r["run"] in self.runs]

    def _compact(self, drop=None):
        """drop: ids whose records failed the check at the start (never rewritten)."""
        acked = [r for r in self.ids if r not in self.pending]
        keep_pending = self.pending[-_PENDING_MAX:]
        if len(keep_pending) < len(self.pending):
            log.warn("journal: %d undelivered result(s) dropped (over %d pending)",
                     len(self.pending) - len(keep_pending), _PENDING_MAX)
        keep = set(acked[-self.limit:]) | set(keep_pending)
        for first, n in self.runs.items():  # an open run's results stay with its marker
            keep.update(range(first, first + n))
        tmp = self.path + ".tmp"
        ids = []
        lines = self.lines
        self.lines = 0
        try:
            with open(tmp, "wb") as out:
                for r in self.records("run"):
                    if r["run"] in self.runs:
                        self._write_line(out, r)
                for r in self.records():
                    rid = r["resultId"]
                    if rid in keep and rid not in ids and not (drop and rid in drop):
                        self._write_line(out, r)
                        ids.append(rid)
                for rid in ids:
                    if rid not in self.pending:
                        self._write_line(out, {"ack": rid})
            os.rename(tmp, self.path)
        except BaseException:
            self.lines = lines
            raise
        self.ids = ids
        self.pending = [r for r in self.pending if r in keep]
        # The next rewrite only after as many new lines again: a backlog of pending
        # results is not rewritten on every append (flash wear).
        self._due = self.lines + max(self.limit, len(self.pending) // 2)
