"""The command-line CSMS: listens, answers every station (diagnostics included),
prints each message whole, and can keep a JSONL log of everything it saw.

    python tools/csms.py --port 9000 [--cert C --key K] [--password PW]
                         [--width N] [--log FILE]
"""

import argparse
import asyncio
import json
import logging
import signal
import time

from ocppdiag import EVENT, RESULT

from .transport import Csms


def _short(obj, limit=None):
    text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"),
                                                       ensure_ascii=False)
    return text if not limit or len(text) <= limit else text[:limit] + "..."


def format_event(kind, rec, width=None):
    """One readable line per event, for the CLI and for test failure messages.
    width: cut messages at that many characters (None: whole)."""
    stamp = time.strftime("%H:%M:%S", time.localtime(rec["time"])) + ".%03d" % (
        rec["time"] % 1 * 1000)
    who = rec.get("station")
    if kind == "sent":
        return "%s CSMS -> %s: %s" % (stamp, who, _short(rec["raw"], width))
    if kind == "violation":
        return "%s VIOLATION %s %s: %s" % (stamp, who, rec.get("action") or "", rec["error"])
    if kind == "refused":
        return "%s %s refused: %s" % (stamp, who, rec["error"])
    t = rec["type"]
    if t == "CONNECT":
        return "%s %s connected (%s)" % (stamp, who, rec["subprotocol"])
    if t == "DISCONNECT":
        return "%s %s disconnected (code %s %s)" % (stamp, who, rec["code"], rec["reason"] or "")
    return "%s %s -> CSMS: %s %s id=%s %s" % (stamp, who, t, rec["action"] or "", rec["id"],
                                              _short(rec["payload"], width))


def format_diagnostics(ev):
    """One line for a diagnostics event worth an operator's eye, else None."""
    stamp = time.strftime("%H:%M:%S", time.localtime(ev.time))
    if ev.kind == RESULT:
        r = ev.data
        info = (r.payload.get("statusInfo") or {}).get("reasonCode")
        return "%s %s RESULT #%s %s %s%s (%s, checksum %s)" % (
            stamp, ev.station, r.result_id, r.test_id, r.verdict, " " + info if info else "",
            r.payload.get("trigger"), "ok" if r.verified else "DOES NOT VERIFY")
    if ev.kind == EVENT:
        e = ev.data
        return "%s %s EVENT test %s %s%s" % (stamp, ev.station, e["testId"], e["state"],
                                             " (cleared)" if e["cleared"] else "")
    return None


class JsonlLog:
    """Everything seen, one JSON object a line, flushed at once: what survives the CSMS."""

    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")

    def write(self, kind, rec):
        line = dict(rec, kind=kind)
        self.f.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        self.f.flush()

    def close(self):
        self.f.close()


async def _main_async(args):
    import ssl as ssl_mod  # only the CLI builds contexts; tests pass their own

    ctx = None
    if args.cert:
        ctx = ssl_mod.SSLContext(ssl_mod.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    csms = Csms(host=args.host, port=args.port, ssl=ctx, boot_status=args.boot_status,
                boot_interval=args.heartbeat_interval,
                passwords={"*": args.password} if args.password else None)
    width = args.width or None
    csms.listeners.append(lambda kind, rec: print(format_event(kind, rec, width), flush=True))

    def show(ev):
        line = format_diagnostics(ev)
        if line:
            print(line, flush=True)

    csms.diag_hub.subscribe(show)
    log = JsonlLog(args.log) if args.log else None
    if log:
        csms.listeners.append(log.write)
    # Ctrl-C / SIGTERM: close the stations' connections (1001) and exit 0.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await csms.start()
        print("CSMS listening on %s/<stationId> (%s)" % (csms.url, ", ".join(csms.subprotocols)),
              flush=True)
        await stop.wait()
        await csms.stop()
    finally:
        if log:
            log.close()


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Reference OCPP 2.1/2.0.1 CSMS (loopback tests). Answers every station, "
                    "the diagnostics messages included (native and DataTransfer), and prints "
                    "each message.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--cert", help="server certificate PEM (enables wss)")
    p.add_argument("--key", help="server key PEM")
    p.add_argument("--boot-status", default="Accepted", choices=("Accepted", "Pending", "Rejected"))
    p.add_argument("--heartbeat-interval", type=int, default=10,
                   help="interval in the BootNotification response (s)")
    p.add_argument("--password", help="require HTTP Basic auth stationId:PASSWORD")
    p.add_argument("--width", type=int, default=0,
                   help="cut printed messages at N characters (default 0: print them whole)")
    p.add_argument("--log", metavar="FILE",
                   help="append everything seen to FILE, one JSON object per line")
    args = p.parse_args(argv)
    if bool(args.cert) != bool(args.key):
        p.error("--cert and --key go together")
    if args.width < 0:
        p.error("--width must be 0 or more")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_main_async(args))
    except KeyboardInterrupt:  # only if Ctrl-C lands before the handlers are set
        pass
    return 0
