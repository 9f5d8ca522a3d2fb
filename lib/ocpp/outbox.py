# CALLs that must not be lost while the CSMS is unreachable (StatusNotification,
# and later diagnostics notifications). Kept in order, bounded; an item with a key
# replaces the older one of the same key (only the newest connector status matters).
import asyncio

import log
from ocpp.rpc import CallError, Offline

_LIMIT = 32


class Outbox:
    def __init__(self):
        self.items = []  # [action, payload, key]
        self.ev = asyncio.Event()

    def put(self, action, payload, key=None):
        if key is not None:
            for i, it in enumerate(self.items):
                if it[2] == key:
                    del self.items[i]
                    break
        if len(self.items) >= _LIMIT:
            dropped = self.items.pop(0)
            log.warn("outbox full: dropped oldest %s", dropped[0])
        self.items.append([action, payload, key])
        self.ev.set()

    async def drain(self, rpc):
        """Send queued CALLs in order while online; returns when the link is lost."""
        while True:
            while not self.items:
                self.ev.clear()
                await self.ev.wait()
            action, payload, key = self.items[0]
            try:
                await rpc.call(action, payload)
            except CallError as e:
                # The CSMS refused it: resending the same message would fail again.
                log.warn("outbox: %s refused by CSMS: %s %s", action, e.code, e.desc)
            except Offline:
                return
            except asyncio.TimeoutError:
                await asyncio.sleep(1)  # keep it first in line and try again
                continue
            except MemoryError:
                # A moment of heap pressure must not cost the connection: keep the
                # item, let the others free what they hold, try again.
                import gc
                gc.collect()
                await asyncio.sleep_ms(100)
                continue
            if self.items and self.items[0][1] is payload:
                self.items.pop(0)
