"""The MCP server proper: tools/list and tools/call over the lowlevel mcp Server.

Who is asking is found per message: the configured token (stdio), or the bearer token
of the HTTP request that carried the message (streamable HTTP, so one server holds
many agents' sessions without mixing them).  The token's name and role come from the
console (/api/whoami); the tool list is cut to that role.  Failures reach the agent
as tool errors (isError, with a JSON {"error": {...}} body) so it can read the reason
and correct itself; a refused parameter carries the reasonCode the station would
have given (UnknownTest, UnknownParameter, MissingParameter, InvalidParameter).
"""
import json
import logging
import time

import mcp_types as types
from mcp.server import Server

from . import tools as T
from .call import Call, ToolError, may
from .upstream import ConsoleError

NAME = "ocpp-diagnostics"
_MAY_INTERRUPT = ("start_diagnostics", "start_fleet_run", "run_playbook")
LOG = logging.getLogger("mcpserver")


def reason_code(status, err):
    """The station's reasonCode for what the console refused on its behalf (the
    console checks the station's catalog before sending: SPEC's params rules)."""
    if status != 422 or "testId" not in err:
        return None
    if "parameter" not in err:
        return "UnknownTest"
    if err.get("limit") == "required":
        return "MissingParameter"
    return "InvalidParameter" if "limit" in err else "UnknownParameter"


def error_body(exc):
    if isinstance(exc, ConsoleError):
        err = dict(exc.error, httpStatus=exc.status)
        rc = reason_code(exc.status, exc.error)
        if rc and "reasonCode" not in err:
            err["reasonCode"] = rc
        return err
    return dict(exc.error)


def _result(obj, is_error=False):
    text = json.dumps(obj, ensure_ascii=False)
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                structured_content=obj, is_error=is_error)


class Diagnostics:
    """tools/list and tools/call for one console; `token_of(ctx)` says whose call it is."""

    def __init__(self, upstream, audit, token_of, transport, playbooks=None, incidents=None):
        self.up, self.audit, self.token_of, self.transport = upstream, audit, token_of, transport
        self.playbooks, self.incidents = playbooks, incidents

    def server(self):
        return Server(NAME, version="1", instructions=(
            "Diagnostics of OCPP 2.1 charging stations through the operator console. Read a "
            "station's catalog (get_catalog) before start_diagnostics: every parameter's limits "
            "are there. Intrusive tests interrupt charging. Runs are recorded with this "
            "credential's name as requestor."),
            on_list_tools=self.list_tools, on_call_tool=self.call_tool)

    async def _who(self, ctx):
        token = self.token_of(ctx)
        if not token:
            raise ConsoleError(401, {"code": "unauthorized", "message": "no console token"})
        return Call(self.up, token, await self.up.whoami(token), self.playbooks,
                      self.incidents)

    async def list_tools(self, ctx, params):
        try:
            call = await self._who(ctx)
        except ConsoleError as e:
            self.audit.write(transport=self.transport, client=None, method="tools/list",
                             outcome="refused", error=error_body(e))
            raise _mcp_error(e)
        role = call.me["role"]
        offered = [t for t in T.TOOLS if may(role, t.role) and (
            self.incidents is not None or t.name not in T.PLAYBOOK_TOOLS)]
        try:
            descriptors = await T.live_descriptors(call) if any(
                t.schema is None for t in offered) else []
        except Exception:  # noqa: BLE001 -- a catalog of an odd shape: a looser schema
            LOG.exception("catalogs for the tool schemas")
            descriptors = []
        out = []
        for t in offered:
            out.append(types.Tool(
                name=t.name, description=t.description,
                input_schema=await T.input_schema(t, call, descriptors),
                # Starting tests may interrupt charging (intrusive ones): not harmless.
                annotations=types.ToolAnnotations(
                    read_only_hint=t.read_only, destructive_hint=t.name in _MAY_INTERRUPT),
                _meta={"x-requiredRole": t.role}))
        self.audit.write(transport=self.transport, client=call.me["name"], role=role,
                         method="tools/list", outcome="ok", tools=len(out))
        return types.ListToolsResult(tools=out)

    async def call_tool(self, ctx, params):
        name, args = params.name, params.arguments or {}
        t0 = time.monotonic()
        client = role = None
        try:
            call = await self._who(ctx)
            client, role = call.me["name"], call.me["role"]
            session = getattr(ctx, "session", None)
            if session is not None:
                call.report = session.report_progress  # a no-op unless the client asked
            tool = T.BY_NAME.get(name)
            if tool is None:
                raise ToolError("unknown-tool", "no tool %r" % name)
            try:
                out = await tool.handler(call, args)
            except BaseException as e:  # cancelled by the client: journaled, then let go
                if not isinstance(e, Exception):
                    self.audit.write(transport=self.transport, client=client, role=role,
                                     method="tools/call", tool=name, arguments=args,
                                     outcome="cancelled",
                                     durationMs=int((time.monotonic() - t0) * 1000))
                raise
            outcome, err = "ok", None
        except (ConsoleError, ToolError) as e:
            out, outcome, err = None, "error", error_body(e)
        except Exception as e:  # noqa: BLE001 -- e.g. a console reply of an unexpected shape
            LOG.exception("tool %s", name)
            out, outcome, err = None, "error", {"code": "internal", "message": "%s: %s" % (
                type(e).__name__, str(e)[:300])}
        rec = dict(transport=self.transport, client=client, role=role, method="tools/call",
                   tool=name, arguments=args, outcome=outcome,
                   durationMs=int((time.monotonic() - t0) * 1000))
        if err:
            rec["error"] = err
        elif isinstance(out, dict) and isinstance(out.get("id"), int) and name.startswith(
                ("start_", "cancel_")):
            rec["fleet" if name == "start_fleet_run" else "run"] = out["id"]
        elif isinstance(out, dict) and name in ("run_playbook", "open_incident"):
            rec.update(incident=out.get("id"), incidentOutcome=out.get("outcome"))
        self.audit.write(**rec)
        return _result({"error": err}, True) if err else _result(out)


def _mcp_error(e):
    from mcp.shared.exceptions import MCPError
    return MCPError(-32001, "console refused: %s" % e, error_body(e))
