# The one place where the agent persists state on flash.
# Small key/value state lives in one JSON file, replaced by write-then-rename so a
# power cut leaves either the old or the new file, never a torn one (rename is
# atomic on littlefs and POSIX). Bigger append-only data (the results journal)
# has its own module; it asks this one only for the directory.
import json
import os

import log


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def makedirs(path):
    cur = ""
    for part in path.split("/"):
        if not part:
            cur = "/"
            continue
        cur = cur + part if cur.endswith("/") or not cur else cur + "/" + part
        if not _exists(cur):
            os.mkdir(cur)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


_OWNER = "owner"  # the station id that owns a data directory


class Owned(Exception):
    """The data directory belongs to another station id."""


def dir_name(station_id):
    """A station id as one path segment that any filesystem takes (littlefs, FAT,
    POSIX): ASCII letters, digits, '-' and '_' kept, every other byte of its UTF-8
    as %XX (so '.', '..', '\\', spaces, control and non-ASCII characters are all
    safe), and, past 64 characters, a prefix and a SHA-256 tag instead (a name limit
    of 255 bytes would otherwise be reachable with 48 four-byte characters)."""
    out = []
    for b in station_id.encode():
        c = chr(b)
        keep = 48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 or c in "-_"
        out.append(c if keep else "%%%02X" % b)
    name = "".join(out)
    if len(name) > 64:
        import binascii
        import hashlib
        name = name[:40] + "~" + binascii.hexlify(hashlib.sha256(station_id.encode()).digest()).decode()[:16]
    return name


def claim(dirname, station_id):
    """Make station_id the owner of dirname, or raise Owned when another station id
    owns it: two stations sharing one journal would deliver each other's results
    under the wrong identity. A directory from before owner files is adopted."""
    path = dirname + "/" + _OWNER
    want = station_id.encode()
    try:
        with open(path, "rb") as f:
            have = f.read(256)
    except OSError:
        have = b""
    if have and have != want:
        try:
            who = "'%s'" % have.decode()[:60]  # not repr: MicroPython's escapes non-ASCII
        except UnicodeError:
            who = "unreadable (%d bytes)" % len(have)
        raise Owned("dataDir %s belongs to station %s, not '%s'; give each station its own dataDir "
                    "(or leave dataDir out: it defaults to state/<stationId>)" % (dirname, who, station_id))
    if not have:
        write_atomic(path, want)


class Store:
    def __init__(self, dirname, owner=None):
        self.dir = dirname
        makedirs(dirname)
        if owner is not None:
            claim(dirname, owner)
        self._path = dirname + "/state.json"
        self._d = {}
        for p in (self._path, self._path + ".tmp"):
            # .tmp survives only if the rename never happened: the main file is then
            # still the old, complete one; use .tmp only if the main one is gone.
            try:
                with open(p, "rb") as f:
                    self._d = json.loads(f.read())
                if type(self._d) is not dict:
                    raise ValueError("not an object")
                break
            except OSError:
                continue
            except Exception as e:  # not JSON, not UTF-8, too big: never a bricked station
                log.warn("store: %s unreadable (%s: %s), ignored", p, type(e).__name__, e)
                self._d = {}

    def get(self, key, default=None):
        return self._d.get(key, default)

    def put(self, key, value):
        if self._d.get(key) == value and key in self._d:
            return
        self._d[key] = value
        self.flush()

    def update(self, d):
        """Several keys in one flash write."""
        self._d.update(d)
        self.flush()

    def remove(self, key):
        if key in self._d:
            del self._d[key]
            self.flush()

    def keys(self, prefix=""):
        return [k for k in self._d if k.startswith(prefix)]

    def flush(self):
        write_atomic(self._path, json.dumps(self._d))

    def path(self, name):
        return self.dir + "/" + name
