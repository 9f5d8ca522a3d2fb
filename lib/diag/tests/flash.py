# Flash self test: free space on the station's filesystem, then a scratch file of
# the given size written, read back, verified and removed. Only the scratch file is
# ever touched; a read-only or full filesystem gives Failed with the reason.
import asyncio
import os

TYPE = "SelfTest"
VERSION = "1.0"
DESCRIPTION = "Free flash space; write, read back and verify a scratch file, then remove it"
PARAMS = (
    ("sizeBytes", "integer", "B", 64, 1048576, None, 4096, False, "size of the scratch file"),
    ("minFreeBytes", "integer", "B", 0, 1073741824, None, 16384, False, "least free space that passes"),
    ("path", "string", None, None, None, None, None, False,
     "directory (filesystem) to test; default: the agent's data directory"),
)
# Flash wears: at most one run every 5 s.
CONSTRAINTS = (None, False, ("flash",), 30, 5, False)
MEASURES = (("freeSpace", "B", ">= minFreeBytes"), ("writeTime", "ms", None), ("readTime", "ms", None))
VERDICTS = ("Passed", "Failed", "Error")
SCOPE = "station"
CLASSES = ("StorageHealth",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (0, 1, 4096, "None")  # one scratch file of sizeBytes (default 4096)
OUTCOME = "Passed: enough free space, and a scratch file reads back exactly as written"

_CHUNK = 512
_NAME = "/diag-flash.tmp"


def _pattern(i):
    # Distinct per chunk so that a misplaced block is caught, not only a bad byte.
    return bytes(((i * 31 + k * 7) & 255) for k in range(_CHUNK))


def flash_bytes(p):
    # What a run with these parameters writes: whole chunks (the daily flash budget).
    return (p["sizeBytes"] + _CHUNK - 1) // _CHUNK * _CHUNK


async def run(ctx):
    import time
    d = ctx.p.get("path") or ctx.agent.store.dir
    try:
        st = os.statvfs(d)
    except OSError as e:
        ctx.fail("NoFilesystem", "%s: %s" % (d, e))
        return "Failed"
    free = st[0] * st[4]  # f_bsize * f_bavail
    ok = ctx.measure("freeSpace", free, "B", ">= %d" % ctx.p["minFreeBytes"], free >= ctx.p["minFreeBytes"])
    if not ok:
        ctx.fail("LowSpace", "%d B free, %d B needed" % (free, ctx.p["minFreeBytes"]))
        return "Failed"
    path = d + _NAME
    n = (ctx.p["sizeBytes"] + _CHUNK - 1) // _CHUNK
    t0 = time.ticks_ms()
    try:
        with open(path, "wb") as f:
            for i in range(n):
                f.write(_pattern(i))
                await asyncio.sleep_ms(0)  # let OCPP traffic through between chunks
        t1 = time.ticks_ms()
        with open(path, "rb") as f:
            for i in range(n):
                if f.read(_CHUNK) != _pattern(i):
                    ctx.fail("Mismatch", "chunk %d read back differs" % i)
                    return "Failed"
                await asyncio.sleep_ms(0)
        t2 = time.ticks_ms()
    except OSError as e:
        # EROFS (30), ENOSPC (28), EACCES (13)...
        ctx.fail("FlashError", "%s while writing/reading the scratch file" % e)
        return "Failed"
    finally:
        try:
            os.remove(path)
        except OSError:
            pass
    ctx.measure("writeTime", time.ticks_diff(t1, t0), "ms")
    ctx.measure("readTime", time.ticks_diff(t2, t1), "ms")
    ctx.evidence("%d B written and verified in %d chunks" % (n * _CHUNK, n))
    return "Passed"
