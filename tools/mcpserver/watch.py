"""`mcpserver watch`: the console's event stream -> playbooks whose trigger matches.

Follows GET /api/events (server-sent events) with its own token (a `run` token named
for what it is, e.g. "playbook-runner": that name is the requestor of the runs it
starts) and runs each matching playbook on the event's station, within the
playbook's rate limits.  Results of the runs a playbook started never trigger it
again.  A lost stream is followed again after a pause; events missed meanwhile are
replayed from the last id seen.
"""
import asyncio
import json
import logging

from . import playbook
from .call import Call
from .upstream import ConsoleError

LOG = logging.getLogger("mcpserver.watch")
_RETRY_S = 2.0


class Watcher:
    def __init__(self, upstream, token, playbooks, incidents, audit, on_open=None):
        self.up, self.token, self.books, self.incidents, self.audit = (
            upstream, token, playbooks, incidents, audit)
        self.on_open = on_open  # called when the stream is open: nothing is missed after
        self.own_runs = set()
        self.connects = playbook.Connects()  # for reconnectStorm triggers
        self.tasks = set()
        self.me = None
        # Last event id handled, kept across a lost stream: the next one replays from
        # there (nothing missed, nothing handled twice).  None: start from "now".
        self.after = None

    async def run(self, stop):
        self.me = await self.up.whoami(self.token)
        while not stop.is_set():
            # The stream may sit idle (keep-alives every 15 s): a stop must not wait for it.
            follow = asyncio.ensure_future(self._follow(stop))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait([follow, stopper], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            follow.cancel()
            try:
                await follow
            except asyncio.CancelledError:
                pass
            except Exception as e:  # noqa: BLE001 -- lost, refused or garbled: follow again
                LOG.warning("event stream: %s: %s; again in %.0f s", type(e).__name__, e,
                            _RETRY_S)
            try:
                await asyncio.wait_for(stop.wait(), _RETRY_S)
            except asyncio.TimeoutError:
                pass
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _follow(self, stop):
        params = {"follow": 1}
        if self.after is not None:
            params["after"] = self.after
        async with self.up.http.stream("GET", "/api/events", params=params, timeout=None,
                                       headers={"Authorization": "Bearer " + self.token,
                                                "Accept": "text/event-stream"}) as r:
            if r.status_code >= 400:
                raise ConsoleError(r.status_code, {"code": "http", "message":
                                                   "event stream refused (HTTP %d)" % r.status_code})
            async for line in r.aiter_lines():
                if stop.is_set():
                    break
                if not line.startswith("data: "):
                    continue
                ev = json.loads(line[6:])
                if not isinstance(ev, dict):
                    continue
                if ev.get("kind") == "stream.open" and self.on_open:
                    self.on_open()
                if isinstance(ev.get("id"), int):
                    if self.after is not None and ev["id"] <= self.after:
                        continue
                    self.after = ev["id"]
                self.consider(ev)

    def consider(self, ev):
        sid = ev.get("station")
        if not isinstance(sid, str) or ev.get("run") in self.own_runs:
            return
        self.connects.note(ev)
        for pb in self.books.values():
            trig = next((t for t in pb["trigger"] if playbook.matches(t, ev, self.connects)),
                        None)
            if trig is not None:
                task = asyncio.ensure_future(self._start(pb, sid, dict(trig, event=ev)))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _start(self, pb, sid, trigger):
        call = Call(self.up, self.token, self.me, self.books, self.incidents)
        rec = dict(transport="watch", client=self.me["name"], role=self.me["role"],
                   method="playbook", playbook=pb["name"], station=sid,
                   trigger={k: v for k, v in trigger.items() if k != "event"},
                   event=trigger["event"].get("id"))
        try:
            inc = await playbook.run(pb, sid, trigger, call, self.incidents, self.me["name"],
                                     self.own_runs)
            rec.update(outcome="ok", incident=inc["id"], incidentOutcome=inc["outcome"])
        except playbook.PlaybookError as e:
            rec.update(outcome="refused", error=e.error)
        except ConsoleError as e:
            rec.update(outcome="error", error=e.error)
        self.audit.write(**rec)
