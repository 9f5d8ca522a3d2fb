# The agent: wires the OCPP layer, the device model and the extensions together
# and runs them as asyncio tasks. Adding an OCPP operation is one module in
# ocpp/ops/ and one line in _OPS.
import asyncio
import sys
import time

import log
from model.devmodel import DeviceModel
from ocpp.rpc import Rpc
from ocpp.station import Station
from store import Owned, Store

# CSMS -> station actions and the module that handles each (imported on first use).
_OPS = (
    ("GetVariables", "ocpp.ops.get_variables"),
    ("SetVariables", "ocpp.ops.set_variables"),
    ("GetBaseReport", "ocpp.ops.get_base_report"),
    ("GetReport", "ocpp.ops.get_report"),
    ("TriggerMessage", "ocpp.ops.trigger_message"),
    ("Reset", "ocpp.ops.reset"),
    ("SetVariableMonitoring", "ocpp.ops.set_variable_monitoring"),
    ("ClearVariableMonitoring", "ocpp.ops.clear_variable_monitoring"),
    ("GetMonitoringReport", "ocpp.ops.get_monitoring_report"),
    ("SetMonitoringBase", "ocpp.ops.set_monitoring_base"),
    ("SetMonitoringLevel", "ocpp.ops.set_monitoring_level"),
)


class Agent:
    def __init__(self, cfg):
        self.cfg = cfg
        log.level = {"debug": log.DEBUG, "info": log.INFO, "warn": log.WARN}[cfg["logLevel"]]
        # The receive buffer, reserved while the heap is still whole: a message near
        # maxMessageSize must fit however fragmented the heap becomes later. Kept
        # across in-process restarts (Reset on the unix port) for the same reason.
        global _rxbuf
        if _rxbuf is None or len(_rxbuf) != cfg["maxMessageSize"]:
            _rxbuf = None
            _rxbuf = bytearray(cfg["maxMessageSize"])
        self.rxbuf = _rxbuf
        self.store = Store(cfg["dataDir"], cfg["stationId"])
        self.dm = DeviceModel(self.store)
        self.rpc = Rpc(self, cfg["messageTimeout"] * 1000)
        self.station = Station(self)
        self.triggers = {}  # TriggerMessage requestedMessage -> hook(agent, payload)
        self.reporting = 0  # reports accepted and not yet fully sent
        self.report_lock = asyncio.Lock()
        self._status = {}  # (evse, connector) -> ConnectorStatus
        self._stop = asyncio.Event()
        self.stopping = False  # set once a stop or reset is under way
        self.stop_reason = "stop"
        self.on_online_hooks = []  # called each time the boot is accepted on a connection
        self.startup_hooks = []  # coroutine functions run as tasks when the agent starts
        self.diag = None
        self._charger = None  # the embedding API (charger.py), made on first use
        # Variable monitoring (model/monitors.py): the CSMS's monitors once loaded, the
        # module that lists preconfigured ones (an extension's), the sweep task, and
        # the last NotifyEvent eventId (the store holds a bound above it).
        self.monitors = None
        self.monitors_dirty = False
        self.premon = None
        self.monitor_task = None
        seq = self.store.get("evSeq", 0)
        self.event_seq = seq if type(seq) is int and seq >= 0 else 0
        self.stall = None  # benchmark only: event-loop stall meter
        for action, mod in _OPS:
            self.rpc.on(action, mod)
        self.rpc.gate = self._gate
        from model import standard
        standard.install(self)
        # Extensions (config "extensions"): packages with install(agent) that add
        # operations, components and hooks to the OCPP core.
        for ext in cfg["extensions"]:
            __import__(ext)
            sys.modules[ext].install(self)
        self.rpc.timeout_ms = self.dm.get_int("OCPPCommCtrlr", "MessageTimeout", "Default", 30) * 1000
        self.station.boot_reason = self.store.get("bootReason") or "PowerUp"

    @property
    def charger(self):
        """The charger firmware's API: connector states, sessions, its own tests."""
        if self._charger is None:
            from charger import Charger
            self._charger = Charger(self)
        return self._charger

    # --- tasks ---------------------------------------------------------------
    def spawn(self, coro):
        return asyncio.create_task(coro)

    async def run(self):
        """Run until stopped or reset; returns "stop" or "reset"."""
        log.info("agent %s starting (boot reason %s)", self.cfg["stationId"], self.station.boot_reason)
        if self.cfg.get("stats"):
            import benchstats
            benchstats.start(self)
        for h in self.startup_hooks:
            self.spawn(h(self))
        if sys.platform == "linux":
            self.spawn(self._stop_requests())
        t = self.spawn(self.station.run())
        await self._stop.wait()
        # Close while the receive task still runs: it reads the CSMS's close frame.
        await self.shutdown()
        t.cancel()
        return self.stop_reason

    async def shutdown(self):
        ws = self.rpc.ws
        self.rpc.detach()
        if ws is not None and not ws.closed:
            await ws.close(1000)
        self._stopped()

    def shutdown_now(self):
        """After Ctrl-C: no task of the interrupted loop can be trusted, so no event
        loop at all: the close handshake is done with blocking socket calls. Best
        effort: the interrupt may have cut any C code short (see _stop_requests)."""
        try:
            ws = self.rpc.ws
            self.rpc.ws = None
            if ws is not None:
                ws.close_now(1000)
            self._stopped()
        except Exception as e:
            print("shutdown after Ctrl-C incomplete:", e)

    def _stopped(self):
        if self.cfg.get("stats"):
            import benchstats
            benchstats.report()
        log.info("agent stopped")

    async def _stop_requests(self):
        # Unix port: a line "stop" on stdin stops the agent cleanly, in the loop.
        # This build delivers Ctrl-C asynchronously (in the middle of whatever C code
        # runs), which can leave the interpreter's state half-updated; services and
        # tests stop it this way instead (tools/run-agent turns SIGTERM/SIGINT into it).
        r = asyncio.StreamReader(sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin)
        while True:
            line = await r.readline()
            if not line:
                return  # stdin closed or /dev/null: not a request
            if line.strip() == b"stop":
                log.info("stop requested")
                self.stopping = True
                self._stop.set()
                return

    async def reset(self, reason):
        # Runs after our Reset CALLRESULT is out; remember why, for the next boot.
        self.store.put("bootReason", reason)
        self.stop_reason = "reset"
        self.stopping = True
        self._stop.set()

    # --- hooks used by the OCPP layer ----------------------------------------
    def on_sent(self, action):
        self.station.last_tx = time.ticks_ms()

    def on_online(self):
        for h in self.on_online_hooks:
            h()

    def on_config_change(self, var):
        if var == "HeartbeatInterval":
            self.station.wake_heartbeat()
        elif var == "MessageTimeout":
            self.rpc.timeout_ms = self.dm.get_int("OCPPCommCtrlr", "MessageTimeout", "Default", 30) * 1000

    def _gate(self, action):
        # B03: while the CSMS has Rejected our boot, it must not be served.
        if self.station.boot_status == "Rejected":
            from ocpp.rpc import CallError
            return CallError("SecurityError", "boot not accepted")
        return None

    def tls_context(self):
        import tlsctx
        return tlsctx.client_context(self.cfg["caFile"])

    # --- connectors ----------------------------------------------------------
    def connectors(self):
        out = []
        for e, n in enumerate(self.cfg["evses"]):
            for c in range(1, n + 1):
                out.append((e + 1, c))
        return out

    def connectors_of(self, evse):
        """Connectors an OCPP EVSEType names (all of them when None)."""
        if evse is None:
            return self.connectors()
        return [(e, c) for e, c in self.connectors()
                if e == evse["id"] and evse.get("connectorId", c) == c]

    def connector_status(self, e, c):
        return self._status.get((e, c), "Available")

    def set_connector_status(self, e, c, status):
        if self._status.get((e, c), "Available") != status:
            self._status[(e, c)] = status
            self.station.queue_status(e, c)

    def availability(self, evse, conn, var):
        if var not in ("AvailabilityState", "Available"):
            return None
        states = [self.connector_status(e, c) for e, c in self.connectors()
                  if (evse is None or e == evse) and (conn is None or c == conn)]
        if not states:
            return None
        if conn is not None:
            state = states[0]
        elif all(s in ("Unavailable", "Faulted") for s in states):
            state = states[0]
        else:
            state = "Available" if "Available" in states else states[0]
        if var == "Available":
            return "false" if state in ("Unavailable", "Faulted") else "true"
        return state


_rxbuf = None


def _load_config(path):
    import config
    try:
        return config.load(path)
    except config.ConfigError as e:
        print("config error:", e)
        sys.exit(2)
    finally:
        # Needed once per start: give its RAM back.
        del sys.modules["config"]


def _unlock_heap():
    # A Ctrl-C that lands while the heap is locked (seen once: MemoryError "heap is
    # locked" from new_event_loop) leaves the lock held, and shutting down needs to
    # allocate. Here, in plain Python code, nothing can legitimately hold it.
    # A collection cut short by the interrupt leaves its "collecting" flag set,
    # which heap_unlock() does not clear; a full collection does.
    import gc
    import micropython
    gc.collect()
    try:
        micropython.heap_lock()
        for _ in range(micropython.heap_unlock()):
            micropython.heap_unlock()
    except AttributeError:  # a port without heap_lock
        pass


def gc_often():
    # MicroPython collects only when an allocation fails: until then garbage piles up
    # and new objects march up the heap, so the long-lived ones made in between (an
    # index entry per test module loaded and dropped at start-up, a component, a
    # task) end up strewn across what is later the free space. A collection every
    # eighth of the free heap reuses the low addresses instead: measured on the 32-bit
    # frozen build with a 70 KB heap, the largest free block after start-up went from
    # 2.8 KB to 24 KB for the same 40 KB in use (firmware/BOARDS.md, "Measuring").
    # A firmware that embeds the agent (charger.py) and set its own threshold keeps it.
    import gc
    gc.collect()
    try:
        if gc.threshold() < 0:
            gc.threshold(max(4096, gc.mem_free() // 8))
    except AttributeError:  # a port built without MICROPY_GC_ALLOC_THRESHOLD
        pass


def main(argv):
    path = argv[1] if len(argv) > 1 else "config.json"
    gc_often()
    cfg = _load_config(path)
    while True:
        try:
            agent = Agent(cfg)
        except Owned as e:  # a data directory another station id owns
            print("config error:", e)
            sys.exit(2)
        try:
            reason = asyncio.run(agent.run())
        except KeyboardInterrupt:
            # Ctrl-C / SIGINT: close the WebSocket properly. Not on an event loop: the
            # interrupted one left its tasks half-run, and a new one would resume
            # some of them (they wait on sockets and events the close touches).
            _unlock_heap()
            agent.shutdown_now()
            return 0
        if reason != "reset":
            return 0
        if sys.platform != "linux":
            import machine
            machine.reset()
        log.info("reset: restarting the agent")
        asyncio.new_event_loop()
        agent = None  # the old agent's objects go before the new one allocates
        import gc
        gc.collect()
        cfg = _load_config(path)
