# Benchmark only (config "stats": tools/bench.py): the peak of live heap, the longest
# event-loop stall, and one STATS line at the stop. Imported only when asked for, so a
# station in service carries none of it.
import asyncio
import gc
import time

_peak = [0, 0, 0]  # live heap after collection, heap in use before it, at start


class Stall:
    """The longest event-loop stall, seen by a task that sleeps 1 ms in a loop (as in
    Peter Hinch's latency measurement). The runner reads and resets it per test."""

    def __init__(self):
        self.max_ms = 0

    def reset(self):
        self.max_ms = 0

    async def run(self):
        while True:
            t0 = time.ticks_us()
            await asyncio.sleep_ms(1)
            lag = (time.ticks_diff(time.ticks_us(), t0) - 1000) // 1000
            if lag > self.max_ms:
                self.max_ms = lag


def start(agent):
    gc.collect()
    _peak[2] = gc.mem_alloc()  # code and objects loaded before any traffic
    agent.spawn(_sample_heap())
    agent.stall = Stall()
    agent.spawn(agent.stall.run())


async def _sample_heap():
    # The peak of live data, sampled every 50 ms.
    while True:
        a = gc.mem_alloc()
        if a > _peak[1]:
            _peak[1] = a
        gc.collect()
        a = gc.mem_alloc()
        if a > _peak[0]:
            _peak[0] = a
        await asyncio.sleep_ms(50)


def report():
    gc.collect()
    print("STATS peak_live=%d peak_alloc=%d start_live=%d now_live=%d free=%d" % (
        _peak[0], _peak[1], _peak[2], gc.mem_alloc(), gc.mem_free()))
    import micropython
    micropython.qstr_info()  # interned names: in flash when the agent is frozen
