# CancelDiagnostics: the running test ends Aborted, the ones not started Skipped,
# then NotifyDiagnosticsStatus Cancelled.
from diag.ops.shapes import CANCEL as REQ


def handle(agent, p):
    if agent.diag.runner.cancel(p["requestId"]):
        return {"status": "Accepted"}
    from diag.params import rejected
    return rejected("UnknownRequest", "no request %d is running" % p["requestId"])
