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
            try:
                os.mkdir(cur)
            except OSError:
                # Another process (a second station started in the same working
                # directory) made it between the stat and the mkdir: fine if it is there.
                if not _exists(cur):
                    raise


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class Owned(Exception):
    """The data directory belongs to another station id (datadir.py)."""


class Store:
    def __init__(self, dirname, owner=None):
        self.dir = dirname
        makedirs(dirname)
        if owner is not None:
            # Needed once per start: datadir.py is dropped again.
            import lazy
            try:
                lazy.load("datadir").claim(dirname, owner)
            finally:
                lazy.drop("datadir")
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
