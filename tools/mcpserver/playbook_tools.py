"""The playbook and incident tools (playbook.py does the work)."""
from . import playbook
from .call import ToolError, integer, may, seg, text


def _books(call):
    if call.playbooks is None or call.incidents is None:
        raise ToolError("not-configured", "this MCP server runs no playbooks (--incident-dir)")
    return call.playbooks, call.incidents


async def list_playbooks(call, args):
    books, _ = _books(call)
    return {"playbooks": list(books.values())}


async def run_playbook(call, args):
    books, incidents = _books(call)
    if not may(call.me["role"], "run"):  # the incident record is ours to guard
        raise ToolError("forbidden", "running a playbook needs role 'run'", role="run")
    name = text(args, "playbook", n=48)
    if name not in books:
        raise ToolError("notfound", "no playbook %r" % name, playbook=name)
    sid = text(args, "station", n=48)
    reason = text(args, "reason", required=False, n=500)
    try:
        return await playbook.run(books[name], sid, {"kind": "agent", "by": call.me["name"],
                                                     "reason": reason}, call, incidents,
                                  call.me["name"])
    except playbook.PlaybookError as e:
        raise ToolError(**e.error)


async def open_incident(call, args):
    _, incidents = _books(call)
    if not may(call.me["role"], "run"):
        raise ToolError("forbidden", "opening an incident needs role 'run'", role="run")
    sid = text(args, "station", n=48)
    await call.get("/api/stations/" + seg(sid))  # it exists, and this token may see it
    return incidents.open_manual(call.me["name"], sid, text(args, "summary", n=1000))


async def list_incidents(call, args):
    _, incidents = _books(call)
    out = incidents.list(text(args, "station", required=False, n=48),
                         text(args, "playbook", required=False, n=48),
                         limit=integer(args, "limit", 1, 500, 50))
    return {"incidents": [{k: i.get(k) for k in ("id", "playbook", "station", "outcome",
                                                  "openedAt", "closedAt", "requestedBy")}
                          for i in out]}


async def get_incident(call, args):
    _, incidents = _books(call)
    try:
        return incidents.get(text(args, "incident", n=40))
    except playbook.PlaybookError as e:
        raise ToolError(**e.error)
