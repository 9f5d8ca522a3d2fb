"""`console serve`: one process, one asyncio loop, two listeners.

The OCPP endpoint (ws:// or wss://) where stations connect, and the HTTP API
(Starlette on uvicorn) for operators, scripts, the web page and the MCP server,
both over one service layer and one database.  SIGINT/SIGTERM close both and exit 0.
"""
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import ssl as ssl_mod
import time

import uvicorn

from . import auth, cluster
from .api import make_app
from .events import EventBus
from .inbound import Inbound
from .schedules import Schedules
from .service import Console
from .stations import Endpoint
from .store import Store

LOG = logging.getLogger("console")


class _Server(uvicorn.Server):
    # The console owns the signals (it also closes the OCPP endpoint); uvicorn's own
    # handlers would re-raise the signal after shutdown and make the exit status 143.
    @contextlib.contextmanager
    def capture_signals(self):
        yield


def bootstrap_admin(store, path):
    """A new database gets one admin token, written to `path` (mode 0600) and never
    shown again: the only way in until the admin adds other tokens."""
    if store.tokens():
        return None
    token, digest = auth.new_token()
    if not store.add_token("admin", "admin", digest, "bootstrap"):
        return None  # another console process on the same database was first
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return path


async def _prune(store, days):
    while True:
        gone = store.prune_events(time.time() - days * 86400)
        if gone:
            LOG.info("%d events older than %d days removed", gone, days)
        await asyncio.sleep(86400)


def _loopback(host):
    return host in ("localhost", "::1") or host.startswith("127.")


class Parts:
    """The console's pieces, wired: what a front end (the API here; an MCP server or a
    second process later) builds on.  Operations go through `console` (service.Console)
    with an auth.Actor; `schedules` adds the schedule operations."""

    def __init__(self, db_url, ocpp_host="127.0.0.1", ocpp_port=0, tls=None):
        if "://" not in db_url:
            os.makedirs(os.path.dirname(os.path.abspath(db_url)), exist_ok=True)
        self.store = Store(db_url)
        self.bus = EventBus(self.store)
        self.inbound = Inbound(self.store, self.bus)
        self.endpoint = Endpoint(self.inbound, host=ocpp_host, port=ocpp_port, ssl=tls)
        self.inbound.endpoint = self.endpoint
        self.cluster = None
        endpoint = self.endpoint
        if cluster.wanted(self.store):  # other console processes may share the database
            self.cluster = cluster.Cluster(self.store, self.bus, self.endpoint)
            endpoint = cluster.ClusterEndpoint(self.endpoint, self.cluster)
        self.console = Console(self.store, self.bus, self.inbound, endpoint)
        if self.cluster is not None:
            self.console.cluster = self.cluster
            self.cluster.console = self.console
        self.schedules = Schedules(self.console)


async def serve(args, stop=None):
    tls = None
    if args.cert:
        tls = ssl_mod.SSLContext(ssl_mod.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert, args.key)
    parts = Parts(args.db, args.ocpp_host, args.ocpp_port, tls)
    store, bus, inbound, endpoint = parts.store, parts.bus, parts.inbound, parts.endpoint
    console, schedules = parts.console, parts.schedules
    if parts.cluster is None:
        store.mark_all_disconnected()  # nobody is connected to a console that just started
        store.orphan_requested_runs()
    else:  # the others' stations stay theirs; those of dead processes are released
        await parts.cluster.start()
    db_url = args.db
    token_file = args.admin_token_file or os.path.join(
        os.path.dirname(os.path.abspath(db_url)) if "://" not in db_url else ".", "admin.token")
    made = bootstrap_admin(store, token_file)
    try:
        await endpoint.start()
    except OSError as e:
        raise SystemExit("console: cannot listen for stations on %s:%s: %s"
                         % (args.ocpp_host, args.ocpp_port, e.strerror or e))
    sock = socket.socket(socket.AF_INET6 if ":" in args.http_host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.http_host, args.http_port))
    except OSError as e:
        await endpoint.stop()
        raise SystemExit("console: cannot listen for the API on %s:%s: %s"
                         % (args.http_host, args.http_port, e.strerror or e))
    http_port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(console, schedules), log_level="warning", lifespan="off",
                            timeout_graceful_shutdown=3, access_log=False,
                            ssl_certfile=args.http_cert, ssl_keyfile=args.http_key)
    server = _Server(config)
    http_task = asyncio.ensure_future(server.serve(sockets=[sock]))
    # Announce (print, ready file) only once the API accepts connections.
    while not server.started and not http_task.done():
        await asyncio.sleep(0.02)
    if http_task.done():
        await endpoint.stop()
        http_task.result()  # uvicorn's start-up error
        raise SystemExit("console: the API did not start")
    sched_task = asyncio.ensure_future(schedules.loop())
    prune_task = asyncio.ensure_future(_prune(store, args.keep_events_days))

    api_url = "%s://%s:%d" % ("https" if args.http_cert else "http", args.http_host, http_port)
    info = {"ocpp": endpoint.url, "api": api_url, "page": api_url + "/", "pid": os.getpid(),
            "adminTokenFile": os.path.abspath(token_file)}
    bus.publish("console.started", None, ocpp=endpoint.url, api=api_url)
    print("console: stations connect to %s/<stationId>" % endpoint.url, flush=True)
    print("console: API and page at %s/" % api_url, flush=True)
    if not args.http_cert and not _loopback(args.http_host):
        print("console: WARNING: the API is plain HTTP on %s: operator tokens cross the "
              "network in clear (use --http-cert/--http-key)" % args.http_host, flush=True)
    if made:
        print("console: new database; admin token written to %s" % made, flush=True)
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            json.dump(info, f)
        os.replace(args.ready_file + ".tmp", args.ready_file)

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        done, _ = await asyncio.wait([asyncio.ensure_future(stop.wait()), http_task],
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        bus.close_all()
        server.should_exit = True
        sched_task.cancel()
        prune_task.cancel()
        inbound.cancel_all()
        await endpoint.stop()
        if parts.cluster is not None:
            await parts.cluster.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await sched_task
        await http_task
        store.close()
    return 0
