# SetMonitoringBase (OCPP 2.1 N03): which monitors are in force.
#   All            preconfigured monitors back (those cleared too), custom ones kept
#   FactoryDefault custom monitors deleted, preconfigured ones back as built
#   HardWiredOnly  custom monitors deleted, preconfigured ones off
# This station has no hard-wired monitors (its built-in events are preconfigured
# monitors, diag/events.py), so HardWiredOnly silences every monitor.
from ocpp.check import ENUM, REQ

REQ = (("monitoringBase", ENUM | REQ, ("All", "FactoryDefault", "HardWiredOnly")),)


def handle(agent, p):
    from model import monitors as M
    b = p["monitoringBase"]
    ms = M.custom(agent)
    if b == "All":
        # N03.FR.03: custom monitors that replaced preconfigured ones stay in force.
        keep = [m[M.ID] for m in ms]
        gone = [i for i in M.off(agent) if i in keep]
    else:
        del ms[:]  # N03.FR.04/.05
        gone = []
    M.save(agent, None, {"mon/off": gone, "mon/base": b})  # one flash write
    M.release(agent)
    return {"status": "Accepted"}  # N03.FR.01
