# The embedding API: how a charger's own firmware, which runs the charging sessions
# (and usually its own OCPP stack), runs the agent in its asyncio loop and tells it
# what only the charger knows. Without it every connector looks Available forever
# and `intrusive` / `allowedStates` protect nothing on a real charger.
#
#   import charger
#   a = charger.start("config.json")          # inside the firmware's running loop
#   a.charger.set_connector(1, 1, "Occupied")  # on every connector state change
#   a.charger.session(True, 1)                 # a charging session starts on EVSE 1
#   a.charger.register_test(my_tests.pump)     # a test module from outside lib/
#   a.charger.last_health()                    # {"health": "Healthy", "time": ...}
#
# Every call validates its arguments and raises ValueError (a message naming what
# was wrong) to the firmware that made it; nothing here sends a frame itself.
import sys

# OCPP 2.x ConnectorStatusEnumType: what StatusNotification carries.
STATES = ("Available", "Occupied", "Reserved", "Unavailable", "Faulted")
# OCPP 1.6 ChargePointStatus words a firmware may still use: named in the error.
_OLD = ("Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing")


def start(cfg, on_reset=None):
    """Build the agent and run it as a task of the caller's running asyncio loop.
    cfg: the path of a configuration file or a dict, checked as at start-up
    (config.ConfigError, store.Owned propagate). Returns the Agent: `.task` is its
    task, `.charger` this API. When a CSMS Reset ends the agent, on_reset(agent) is
    called; without one a board resets (machine.reset), the unix port just ends."""
    import asyncio
    import agent as _agent
    import config
    _agent.gc_often()
    try:
        cfg = config.load(cfg) if type(cfg) is str else config.check(cfg)
    finally:
        del sys.modules["config"]  # needed once per start: give its RAM back
    a = _agent.Agent(cfg)
    a.task = asyncio.create_task(_serve(a, on_reset))
    return a


async def _serve(a, on_reset):
    reason = await a.run()
    if reason == "reset":
        if on_reset is not None:
            on_reset(a)
        elif sys.platform != "linux":
            import machine
            machine.reset()
    return reason


class Charger:
    """Reached as agent.charger (created on first use)."""

    def __init__(self, agent):
        self.agent = agent
        self.sessions = []  # EVSE ids with a charging session in progress (0: not said which)

    def set_connector(self, evse, connector, status):
        """A connector's OCPP ConnectorStatus; a change is sent to the CSMS as a
        StatusNotification (queued while offline, like every other one)."""
        a = self.agent
        if type(evse) is not int or type(connector) is not int or (evse, connector) not in a.connectors():
            raise ValueError("no connector %r on EVSE %r (this station has %s)"
                             % (connector, evse, a.cfg["evses"]))
        if status not in STATES:
            hint = " (OCPP 2.x says Occupied; a session is charger.session(True))" if status in _OLD else ""
            raise ValueError("connector status %r is not one of %s%s" % (status, ", ".join(STATES), hint))
        a.set_connector_status(evse, connector, status)

    def connector(self, evse, connector):
        return self.agent.connector_status(evse, connector)

    def session(self, active, evse=None):
        """Whether a charging session is in progress (on one EVSE, or on the station
        when evse is None). No intrusive test starts during a session."""
        if type(active) is not bool:
            raise ValueError("session(active): True or False, not %r" % (active,))
        if evse is not None and not any(e == evse for e, _ in self.agent.connectors()):
            raise ValueError("no EVSE %r on this station" % (evse,))
        key = evse or 0
        if active and key not in self.sessions:
            self.sessions.append(key)
        elif not active:
            if evse is None:
                self.sessions = []  # the station says: no session anywhere
            elif key in self.sessions:
                self.sessions.remove(key)

    def in_session(self):
        return bool(self.sessions)

    def may_charge(self):
        """False while an intrusive test runs: the spec forbids energy transfer then."""
        return not self.intrusive_running()

    def intrusive_running(self):
        d = self.agent.diag
        r = d and d._runner
        if not r:
            return []
        return [t for t in r.current if d.registry.load(t).CONSTRAINTS[1]]

    def register_test(self, module, test_id=None):
        """Offer a test module that lives outside lib/ (the charger's own tests, e.g.
        a contactor or pump check). Its descriptor is checked like a built-in one;
        its id is test_id or the module's own name. Returns the id. A bad descriptor
        raises ValueError naming the module and the field, and the test is shown as
        left out (DiagnosticTest Problem), like a built-in module."""
        d = self.agent.diag
        if d is None:
            raise ValueError("the diagnostics extension is not installed (config extensions)")
        tid = test_id or getattr(module, "__name__", "").rsplit(".", 1)[-1]
        err = d.registry.add(tid, module)
        from diag import components
        if err:
            components.add_bad(self.agent, tid, err)
            raise ValueError("test module %s: %s" % (tid, err))
        components.add_test(self.agent, tid)
        return tid

    def last_health(self):
        """The latest health check result: {"health", "verdict", "time", "testId",
        "resultId"}, or None before the first one."""
        d = self.agent.diag
        best = None
        if d is None:
            return None
        for tid, v in d.last.items():
            if d.registry.type_of(tid) == "HealthCheck" and v[0] != "Skipped" and (best is None or v[1] > best[1]):
                best = v
                bid = tid
        if best is None:
            return None
        return {"health": best[3], "verdict": best[0], "time": best[1], "testId": bid, "resultId": best[2]}
