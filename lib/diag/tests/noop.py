# Pipeline self check: does nothing for durationMs and reports the outcome asked
# for. It lets an operator (or a CI of the CSMS) exercise the whole diagnostics path
# (run, timeout, cancel, error handling, delivery) without touching hardware.
import asyncio

TYPE = "SelfTest"
VERSION = "1.0"
DESCRIPTION = "Diagnostics pipeline check: waits durationMs, then reports the requested outcome"
PARAMS = (
    ("durationMs", "integer", "ms", 0, 600000, None, None, True, "how long the run takes"),
    ("outcome", "enum", None, None, None, ("Passed", "Failed", "Error", "OutOfMemory"), "Passed", False,
     "Error raises an exception inside the test, OutOfMemory exhausts the heap"),
)
CONSTRAINTS = (None, False, (), 3, 0, False)
MEASURES = (("durationMs", "ms", None),)
VERDICTS = ("Passed", "Failed", "Error", "TimedOut", "Aborted")
SCOPE = "station"
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (0, 0, 0, "None")
OUTCOME = "Passed unless another outcome was asked for"


async def run(ctx):
    await asyncio.sleep_ms(ctx.p["durationMs"])
    ctx.measure("durationMs", ctx.p["durationMs"], "ms")
    if ctx.p["outcome"] == "Error":
        raise RuntimeError("requested error")
    if ctx.p["outcome"] == "OutOfMemory":
        hog = []
        while True:  # until MemoryError: the runner must survive it
            hog.append(bytearray(4096))
    return ctx.p["outcome"]
