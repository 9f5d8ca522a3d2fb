# The station's data directory: its default name per station id, and its owner.
# Two stations started in one directory would share one journal and deliver each
# other's results under the wrong identity; so each id gets its own directory by
# default, and a directory is refused to any id but the one that owns it. Used
# once per start (config, store), then dropped.
from store import Owned, write_atomic

_OWNER = "owner"  # the station id that owns a data directory


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
