# Memory self test: free heap and the largest block that can still be allocated
# (fragmentation) against limits. A charging session needs contiguous buffers
# (TLS records, JSON messages), so free bytes alone are not enough.
import gc

TYPE = "SelfTest"
VERSION = "1.0"
DESCRIPTION = "Free heap and largest allocatable block against limits"
PARAMS = (
    ("minFreeBytes", "integer", "B", 0, 16777216, None, 8192, False, "least free heap that passes"),
    ("minLargestBlock", "integer", "B", 0, 16777216, None, 4096, False,
     "least contiguous block that passes"),
)
# allowedStates, intrusive, exclusiveResources, timeout s, minInterval s, needsNetwork
CONSTRAINTS = (None, False, (), 10, 0, False)
MEASURES = (("freeHeap", "B", ">= minFreeBytes"), ("largestBlock", "B", ">= minLargestBlock"),
            ("usedHeap", "B", None))
VERDICTS = ("Passed", "Failed", "Error")
SCOPE = "station"
CLASSES = ("MemoryHeadroom",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (0, 0, 0, "None")
OUTCOME = "Passed: free heap and largest allocatable block are at or above their limits"


def largest_block(limit):
    """Largest bytearray that can be allocated now, found by bisection (each try is
    freed at once). Bounded by `limit` so a big heap is not scanned needlessly."""
    lo, hi = 0, limit
    while hi - lo > 64:
        mid = (lo + hi) // 2
        try:
            b = bytearray(mid)
            b = None
            lo = mid
        except MemoryError:
            hi = mid
    return lo


async def run(ctx):
    gc.collect()
    free = gc.mem_free()
    used = gc.mem_alloc()
    block = largest_block(free)
    gc.collect()
    ok1 = ctx.measure("freeHeap", free, "B", ">= %d" % ctx.p["minFreeBytes"], free >= ctx.p["minFreeBytes"])
    ok2 = ctx.measure("largestBlock", block, "B", ">= %d" % ctx.p["minLargestBlock"],
                      block >= ctx.p["minLargestBlock"])
    ctx.measure("usedHeap", used, "B")
    if ok1 and ok2:
        return "Passed"
    ctx.evidence("free %d B (limit %d), largest block %d B (limit %d)" % (
        free, ctx.p["minFreeBytes"], block, ctx.p["minLargestBlock"]))
    ctx.fail("BelowLimit", "heap below limit")
    return "Failed"
