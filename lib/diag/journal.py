# Results journal on flash: an append-only log, one record per line with a CRC32,
# so that a power cut in mid-write leaves at most one torn last line, which is
# detected and dropped at the next start. Records are results and acknowledgements
# ({"ack": resultId}); a result is pending until its ack is in. Bounded: when it
# grows past its limit the log is rewritten (write-then-rename) keeping every
# pending result and the newest acknowledged ones.
import binascii
import json
import os

import log

_LIMIT = 64  # results kept
_PENDING_MAX = 256  # pending results kept even past the limit


def _crc(s):
    return "%08x" % (binascii.crc32(s.encode()) & 0xFFFFFFFF)


def _parse(line):
    """-> dict or None when the line is torn or corrupt."""
    line = line.rstrip("\n")
    i = line.rfind(" ")
    if i < 0 or len(line) - i != 9:
        return None
    body = line[:i]
    if _crc(body) != line[i + 1:]:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


class Journal:
    def __init__(self, dirname, limit=_LIMIT):
        self.path = dirname + "/results.log"
        self.limit = limit
        self.ids = []  # result ids in order
        self.pending = []  # result ids not acknowledged, in order
        self.last_id = 0
        self._scan()

    def _scan(self):
        bad = 0
        acked = set()
        try:
            with open(self.path) as f:
                while True:
                    line = f.readline()
                    if not line:
                        break
                    rec = _parse(line)
                    if rec is None:
                        bad += 1
                        continue
                    if "ack" in rec:
                        acked.add(rec["ack"])
                    else:
                        rid = rec["resultId"]
                        self.ids.append(rid)
                        if rid > self.last_id:
                            self.last_id = rid
        except OSError:
            return
        self.pending = [r for r in self.ids if r not in acked]
        if bad:
            log.warn("journal: %d torn or corrupt record(s) dropped", bad)
            self._compact()

    def _write_line(self, f, rec):
        body = json.dumps(rec)
        f.write(body + " " + _crc(body) + "\n")

    def append(self, result):
        with open(self.path, "a") as f:
            self._write_line(f, result)
        rid = result["resultId"]
        self.ids.append(rid)
        self.pending.append(rid)
        if rid > self.last_id:
            self.last_id = rid
        if len(self.ids) > self.limit + self.limit // 2:
            self._compact()

    def ack(self, rid):
        if rid not in self.pending:
            return
        with open(self.path, "a") as f:
            self._write_line(f, {"ack": rid})
        self.pending.remove(rid)

    def records(self):
        """Yield every intact result, oldest first, one at a time."""
        try:
            f = open(self.path)
        except OSError:
            return
        with f:
            while True:
                line = f.readline()
                if not line:
                    return
                rec = _parse(line)
                if rec is not None and "ack" not in rec:
                    yield rec

    def get(self, rid):
        for r in self.records():
            if r["resultId"] == rid:
                return r
        return None

    def _compact(self):
        keep_acked = [r for r in self.ids if r not in self.pending][-self.limit:]
        keep_pending = self.pending[-_PENDING_MAX:]
        keep = set(keep_acked) | set(keep_pending)
        tmp = self.path + ".tmp"
        ids = []
        with open(tmp, "w") as out:
            for r in self.records():
                if r["resultId"] in keep and r["resultId"] not in ids:
                    self._write_line(out, r)
                    ids.append(r["resultId"])
            for rid in ids:
                if rid not in self.pending:
                    self._write_line(out, {"ack": rid})
        os.rename(tmp, self.path)
        self.ids = ids
        self.pending = [r for r in self.pending if r in keep]
