# The diagnostics model: tests the station offers (diag/tests/, one module each),
# how they run (runner), where results go (journal, delivery) and how the CSMS
# reaches them (diag/ops/: native messages, DataTransfer, CustomTrigger, GetLog).

_OPS = (
    ("GetDiagnosticsCatalog", "diag.ops.get_diagnostics_catalog"),
    ("StartDiagnostics", "diag.ops.start_diagnostics"),
    ("CancelDiagnostics", "diag.ops.cancel_diagnostics"),
    ("GetDiagnosticsResults", "diag.ops.get_diagnostics_results"),
    ("DataTransfer", "diag.ops.data_transfer"),
    ("GetLog", "diag.ops.get_log"),
)


def install(agent):
    from diag.diagnostics import Diagnostics
    from diag import components, targets
    d = Diagnostics(agent)
    agent.diag = d
    for action, mod in _OPS:
        agent.rpc.on(action, mod)
    components.install(agent)
    agent.premon = "diag.events"  # its built-in events are preconfigured monitors
    targets.install(agent)
    _call("model.meter", "install", agent)  # the Meter component, when the config has a meter
    agent.triggers["CustomTrigger"] = _custom_trigger
    agent.triggers["LogStatusNotification"] = _log_status
    agent.on_online_hooks.append(d.on_online)
    agent.startup_hooks.append(_startup)


def _custom_trigger(agent, p):
    return _call("diag.ops.custom_trigger", "handle", agent, p)


def _log_status(agent, p):
    # A triggered LogStatusNotification reports the upload under way, or Idle.
    return {"status": "Accepted"}, _call("diag.ops.get_log", "report_status", agent)


def _call(name, fn, *args):
    # Imported for this trigger only, like the handler modules (lazy.py).
    import lazy
    try:
        return getattr(lazy.load(name), fn)(*args)
    finally:
        lazy.drop(name)


async def _startup(agent):
    from diag import scheduler
    d = agent.diag
    if agent.dm.get("DiagnosticsCtrlr", "StartupTiming") == "BeforeBoot":
        d.run_startup()
    try:
        await d.registry.compute()  # catalogVersion (DG11), before a CSMS asks for it
    except Exception as e:  # MemoryError too: then on first use; schedules must run
        import log
        log.warn("diag: catalog version deferred: %s", type(e).__name__)
    await scheduler.run(agent)
