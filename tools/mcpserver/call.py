"""What every tool handler shares: the call (who asks, the console to ask), role
order, and checks of the agent's arguments and of the console's replies (both input).
"""
from urllib.parse import quote

from .upstream import ConsoleError

ROLES = ("read", "run", "run-intrusive", "admin")


class ToolError(Exception):
    """A refusal decided here (bad arguments), shaped like the console's errors."""

    def __init__(self, code, message, **details):
        super().__init__(message)
        self.error = dict(code=code, message=message, **details)


class Call:
    """One tool call: who asks (token, identity), the console to ask, and the
    playbooks and incident records this server holds (None: not configured)."""

    def __init__(self, upstream, token, identity, playbooks=None, incidents=None):
        self.up, self.token, self.me = upstream, token, identity
        self.playbooks, self.incidents = playbooks, incidents
        self.report = None  # async (progress, total, message): MCP progress, if asked for

    async def progress(self, progress, total=None, message=None):
        if self.report is not None:
            try:
                await self.report(progress, total, message)
            except Exception:  # noqa: BLE001 -- progress is a courtesy; the result is not
                self.report = None

    async def get(self, path, **params):
        return await self.up.get(self.token, path, **params)

    async def post(self, path, body):
        return await self.up.post(self.token, path, body)


def may(role, needed):
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def seg(sid):
    return quote(sid, safe="")


def text(args, name, required=True, n=100):
    v = args.get(name)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not 1 <= len(v) <= n:
        raise ToolError("invalid", "%s: text of 1..%d characters" % (name, n), field=name)
    return v


def integer(args, name, lo, hi, default=None):
    v = args.get(name, default)
    if v is None and default is None and name not in args:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ToolError("invalid", "%s: an integer %d..%d" % (name, lo, hi), field=name)
    return v


def obj(x):
    """A console reply that must be an object (the console's replies are input too)."""
    if not isinstance(x, dict):
        raise ConsoleError(502, {"code": "bad-reply", "message": "console answered %s where "
                                 "an object was expected" % type(x).__name__})
    return x


def array(x):
    if not isinstance(x, list):
        raise ConsoleError(502, {"code": "bad-reply", "message": "console answered %s where "
                                 "a list was expected" % type(x).__name__})
    return x
