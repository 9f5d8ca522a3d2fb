# Runs on the emulated board (tools/boards/qemu_check.py): the frozen agent for a time
# window, then how many results it journaled. Not an entry point for real boards (main.py).
import asyncio

import agent
import config

_seconds = globals().get("RUN_SECONDS", 20)
a = agent.Agent(config.load("config.json"))
# A station set to run its start-up tests before it reaches the CSMS (the link is down
# here): their results must be journaled for later delivery.
a.dm.put("DiagnosticsCtrlr", "StartupTiming", "BeforeBoot")


async def _window():
    t = asyncio.create_task(a.run())
    await asyncio.sleep(_seconds)
    a.stopping = True
    a._stop.set()
    await asyncio.wait_for(t, 15)


asyncio.run(_window())
from diag.journal import Journal  # noqa: E402
a = None
j = Journal(config.load("config.json")["dataDir"])  # read back from "flash"
n = len(j.ids)
for rid in j.ids:  # each start-up verdict, for the check's log
    r = j.get(rid) or {}
    print("result %d: %s %s %s" % (rid, r.get("testId"), r.get("verdict"),
                                   (r.get("statusInfo") or {}).get("additionalInfo", "")[:120]))
import gc  # noqa: E402
gc.collect()
print("results journaled: %d; heap used %d, free %d" % (n, gc.mem_alloc(), gc.mem_free()))
print("AGENT-ON-QEMU done")
