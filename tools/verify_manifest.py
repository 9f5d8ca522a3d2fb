# Runs ON THE BOARD after a deploy (tools/deploy.py sends it with `mpremote run`,
# or runs it with the unix port for a --target DIR): checks the deployed files
# against the build's MANIFEST and prints one line per mismatch, then
# "VERIFY OK <n> files" or "VERIFY FAILED <n> mismatches". Stand-alone on purpose:
# checking the agent with the agent's own (possibly broken) code proves little.
# deploy.py puts the settings above this text:
#   ROOT   where MANIFEST and lib/ are ("" = the current directory, "/" on a board)
#   SKIP   path prefixes not to check (umodbus when mip installed it)
#   IMAGE  None, or (sha256, size) of the ROMFS image: the partition is hashed and
#          mounted at /rom, and /rom/MANIFEST checked instead
#   ROMDEV None on a board (vfs.rom_ioctl gives the partition), or a file standing in
import os
import hashlib
import binascii

try:
    ROOT, SKIP, IMAGE, ROMDEV  # noqa: F821  (set by deploy.py)
except NameError:
    ROOT, SKIP, IMAGE, ROMDEV = "", (), None, None


def _hex(h):
    return binascii.hexlify(h.digest()).decode()


def _sha(path):
    h = hashlib.sha256()
    buf = bytearray(512)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                return _hex(h)
            h.update(memoryview(buf)[:n])


def _walk(root, d, out):
    try:
        entries = list(os.ilistdir(root + d))
    except OSError:
        return
    for e in entries:
        if e[1] == 0x4000:
            _walk(root, d + "/" + e[0], out)
        else:
            out.append(d + "/" + e[0])


def _top(rel):
    # "lib/ocpp/ws.mpy" -> "ocpp", "lib/agent.mpy" -> "agent": files under lib/ are
    # the agent's when their first name is one of the manifest's (others are the
    # charger maker's own and not checked).
    t = rel[4:]
    if "/" in t:
        return t.split("/", 1)[0]
    return t.rsplit(".", 1)[0]


def check(root):
    bad = 0
    listed = set()
    tops = set()
    n = 0
    with open(root + "MANIFEST") as f:
        for line in f:
            line = line.rstrip()
            if not line or line[0] == "#":
                continue
            sha, size, rel = line.split(" ", 2)
            listed.add(rel)
            if rel.startswith("lib/"):
                tops.add(_top(rel))
            if any(rel.startswith(s) for s in SKIP):
                continue
            n += 1
            try:
                got = _sha(root + rel)
            except OSError:
                print("missing", rel)
                bad += 1
                continue
            if got != sha:
                print("changed", rel)
                bad += 1
    found = []
    _walk(root, "lib", found)
    for rel in found:
        if rel not in listed and _top(rel) in tops and not any(rel.startswith(s) for s in SKIP):
            print("extra", rel)
            bad += 1
    return n, bad


def rom_bytes():
    if ROMDEV is not None:
        with open(ROMDEV, "rb") as f:
            return f.read()
    import vfs
    return memoryview(vfs.rom_ioctl(2, 0))


def main():
    bad = 0
    root = ROOT
    if IMAGE is not None:
        import vfs
        data = rom_bytes()
        h = hashlib.sha256()
        for i in range(0, IMAGE[1], 4096):
            h.update(data[i:min(i + 4096, IMAGE[1])])
        if len(data) < IMAGE[1] or _hex(h) != IMAGE[0]:
            print("changed ROMFS partition: not the image of this build")
            bad += 1
        try:
            vfs.umount("/rom")
        except OSError:
            pass
        vfs.mount(vfs.VfsRom(data), "/rom")
        root = "/rom/"
    n, b = check(root)
    bad += b
    if bad:
        print("VERIFY FAILED %d mismatches" % bad)
    else:
        print("VERIFY OK %d files" % n)


main()
