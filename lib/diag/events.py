# NotifyEvent for a test that failed, or a health check that degraded, and the
# clearing event when it recovers: an unmodified CSMS shows these as alerts on the
# test's DiagnosticTest component.
import clock

# Severity 0 (Danger) .. 9 (Debug), OCPP 2.1 EventData.severity.
_SEVERITY = {"Unhealthy": 2, "Failed": 4, "Error": 4, "TimedOut": 4, "Degraded": 6}


def on_result(agent, tid, state, prev, info):
    """state: verdict or health status; prev: the previous one (or None)."""
    bad = state in _SEVERITY
    was_bad = prev in _SEVERITY
    if not bad and not was_bad:
        return
    if bad and state == prev:
        return  # still failing the same way: already reported
    d = agent.diag
    d.event_seq += 1
    ev = {"eventId": d.event_seq, "timestamp": clock.iso(), "trigger": "Delta",
          "actualValue": state, "eventNotificationType": "HardWiredNotification",
          "component": {"name": "DiagnosticTest", "instance": tid},
          "variable": {"name": "LastVerdict"}, "techCode": state[:50]}
    if bad:
        ev["severity"] = _SEVERITY[state]
        if info:
            ev["techInfo"] = info[:500]
    else:
        ev["cleared"] = True
    agent.station.outbox.put("NotifyEvent", {"generatedAt": clock.iso(), "seqNo": 0,
                                             "eventData": [ev]})
