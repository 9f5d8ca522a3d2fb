"""`mcpserver stdio` (one agent, its token given here) or `mcpserver http` (many
agents, each sending its own token as a bearer token on the endpoint); `mcpserver
watch` runs playbooks when console events match their triggers.

    mcpserver stdio --url http://127.0.0.1:8080 --token-file ~/.config/ops-agent.token
    mcpserver http  --url http://127.0.0.1:8080 --port 8765     # endpoint /mcp
    mcpserver watch --url http://127.0.0.1:8080 --token-file playbook-runner.token

The console URL and token also come from CONSOLE_URL, CONSOLE_TOKEN, CONSOLE_TOKEN_FILE
(as for the console's CLI).  Every call is journaled to --audit-log (JSON lines).
Exit codes: 0 stopped, 2 usage, 3 the token was refused by the console.
"""
import argparse
import json
import os
import signal
import socket
import sys

from .audit import Audit
from .server import Diagnostics
from .upstream import ConsoleError, Upstream


def _state(name):
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                             "state")
    return os.path.join(base, "ocpp-diagnostics", name)


def _parser():
    p = argparse.ArgumentParser(prog="mcpserver", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="transport", required=True)
    for name in ("stdio", "http", "watch"):
        s = sub.add_parser(name)
        s.add_argument("--url", default=os.environ.get("CONSOLE_URL", "http://127.0.0.1:8080"),
                       help="the console's API (or CONSOLE_URL)")
        s.add_argument("--ca-file", default=os.environ.get("CONSOLE_CA"),
                       help="CA (PEM) of an https console (or CONSOLE_CA)")
        s.add_argument("--audit-log", default=os.environ.get("MCP_AUDIT_LOG") or
                       _state("mcp-audit.jsonl"), help="JSONL journal of MCP calls (or MCP_AUDIT_LOG)")
        s.add_argument("--incident-dir", default=os.environ.get("MCP_INCIDENT_DIR") or
                       _state("incidents"), help="incident records (or MCP_INCIDENT_DIR)")
        s.add_argument("--playbook-dir", default=os.environ.get("MCP_PLAYBOOK_DIR"),
                       help="more playbooks (*.json) beside the shipped ones (or MCP_PLAYBOOK_DIR)")
    for name in ("stdio", "watch"):
        s = sub.choices[name]
        s.add_argument("--token", default=os.environ.get("CONSOLE_TOKEN"),
                       help="the console token to act with (or CONSOLE_TOKEN)")
        s.add_argument("--token-file", default=os.environ.get("CONSOLE_TOKEN_FILE"),
                       help="file holding it (or CONSOLE_TOKEN_FILE)")
    h = sub.choices["http"]
    h.add_argument("--host", default="127.0.0.1")
    h.add_argument("--port", type=int, default=8765)
    h.add_argument("--path", default="/mcp")
    h.add_argument("--ready-file", help="written (JSON: url, pid) once the endpoint listens")
    sub.choices["watch"].add_argument("--ready-file", help="written (JSON: pid) once the "
                                      "event stream is followed")
    return p


def main(argv=None):
    from . import playbook
    args = _parser().parse_args(argv)
    try:
        books = playbook.load_all(args.playbook_dir)
    except (OSError, ValueError) as e:
        print("mcpserver: playbook refused: %s" % e, file=sys.stderr)
        return 2
    incidents = playbook.Incidents(args.incident_dir)
    up = Upstream(args.url, ca_file=args.ca_file)
    audit = Audit(args.audit_log)
    token = None
    if args.transport in ("stdio", "watch"):
        token = args.token
        if not token and args.token_file:
            with open(args.token_file) as f:
                token = f.read().strip()
        if not token:
            print("mcpserver: a console token is needed (--token, --token-file, CONSOLE_TOKEN)",
                  file=sys.stderr)
            return 2
    import asyncio
    if args.transport == "stdio":
        import anyio
        return anyio.run(_stdio, up, audit, token, books, incidents)
    if args.transport == "watch":
        return asyncio.run(_watch(up, audit, token, books, incidents, args.ready_file))
    return asyncio.run(_http(up, audit, args, books, incidents))


def _ready(path, **info):
    if path:
        with open(path + ".tmp", "w") as f:
            json.dump(dict(info, pid=os.getpid()), f)
        os.replace(path + ".tmp", path)


async def _watch(up, audit, token, books, incidents, ready_file):
    import asyncio
    from .watch import Watcher
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    w = Watcher(up, token, books, incidents, audit,
                on_open=lambda: _ready(ready_file, playbooks=sorted(books)))
    try:
        await w.run(stop)
    except ConsoleError as e:
        print("mcpserver: %s" % e, file=sys.stderr)
        return 3 if e.status in (401, 403) else 5
    finally:
        await up.close()
    return 0


async def _stdio(up, audit, token, books, incidents):
    from mcp.server.stdio import stdio_server
    try:
        me = await up.whoami(token)
    except ConsoleError as e:
        print("mcpserver: %s" % e, file=sys.stderr)
        if e.status in (401, 403):
            return 3
        me = None  # console not up yet: the calls will say so
    if me:
        print("mcpserver: stdio, acting as %s (role %s)" % (me["name"], me["role"]),
              file=sys.stderr)
    diag = Diagnostics(up, audit, lambda ctx: token, "stdio", books, incidents)
    server = diag.server()
    try:
        async with stdio_server() as (r, w):
            await server.run(r, w, server.create_initialization_options())
    finally:
        await up.close()
    return 0


async def _http(up, audit, args, books, incidents):
    import asyncio
    import contextlib
    import uvicorn
    from .http_endpoint import bearer, make_app

    class _Server(uvicorn.Server):
        # Our signal handlers below: uvicorn's would re-raise the signal (exit 143).
        @contextlib.contextmanager
        def capture_signals(self):
            yield

    def token_of(ctx):
        req = getattr(ctx, "request", None)
        return bearer(req.headers) if req is not None else None

    diag = Diagnostics(up, audit, token_of, "http", books, incidents)
    app = make_app(diag, up, audit, args.host, args.path)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                    lifespan="on", timeout_graceful_shutdown=3))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    url = "http://%s:%d%s" % (args.host if ":" not in args.host else "[%s]" % args.host, port,
                              args.path)
    print("mcpserver: streamable HTTP at %s (bearer: a console token)" % url, file=sys.stderr,
          flush=True)
    _ready(args.ready_file, url=url)
    try:
        await task
    finally:
        await up.close()
    return 0
