"""The compatibility binding (SPEC.md section 10 and 8-9), read and written from the
CSMS side: diagnostics payloads inside DataTransfer, the DiagnosticsCtrlr and
DiagnosticTest components of a base report, the NotifyEvents of failing tests, and
TriggerMessage CustomTrigger.  All of it works with a CSMS that never registers the
native actions."""

from .catalog import Catalog

DEFAULT_VENDOR_ID = "org.openchargealliance.diagnostics"
NATIVE, DATA_TRANSFER, AUTO = "native", "dataTransfer", "auto"


def data_transfer_request(action, payload, vendor_id=DEFAULT_VENDOR_ID):
    """A DataTransferRequest carrying `payload` as the `action` message."""
    return {"vendorId": vendor_id, "messageId": action, "data": payload}


def custom_trigger_request(trigger, parameters=None, vendor_id=DEFAULT_VENDOR_ID, evse=None):
    """TriggerMessageRequest running `trigger`: "HealthCheck", "SelfTest" or a testId;
    parameters ({name: value}) and `evse` ({"id"[, "connectorId"]}, for a test that runs
    per EVSE or connector) only with a testId (SPEC.md 10.2, DG08.FR.06)."""
    req = {"requestedMessage": "CustomTrigger", "customTrigger": trigger}
    if evse is not None:
        req["evse"] = evse
    if parameters:
        req["customData"] = {"vendorId": vendor_id, "parameter": [
            {"name": k, "value": v} for k, v in parameters.items()]}
    return req


# -- the device model ------------------------------------------------------

def components(report_parts, name):
    """{instance: {variable: Actual value}} of component `name` in NotifyReport payloads
    (a GetBaseReport's parts, or any report)."""
    out = {}
    for part in report_parts:
        for item in part.get("reportData", ()):
            comp = item.get("component", {})
            if comp.get("name") != name:
                continue
            values = out.setdefault(comp.get("instance"), {})
            var = item.get("variable", {})
            for attr in item.get("variableAttribute", ()):
                if attr.get("type", "Actual") == "Actual" and "value" in attr:
                    values[var.get("name")] = attr["value"]
    return out


def diagnostic_tests(report_parts):
    """testId -> {TestType, Description, Version, Parameters, Interval, Enabled,
    LastVerdict, ...} as the station's DiagnosticTest components show them."""
    return {k: v for k, v in components(report_parts, "DiagnosticTest").items() if k}


def diagnostics_ctrlr(report_parts):
    """The DiagnosticsCtrlr variables ({} when the station has none)."""
    return components(report_parts, "DiagnosticsCtrlr").get(None, {})


def catalog_from_report(report_parts):
    """A Catalog read from the device model, for a CSMS without the native catalog.
    Parameters come from the compact `Parameters` form, which does not say whether a
    parameter is required: a missing one is then left for the station to refuse."""
    tests = []
    for tid, v in sorted(diagnostic_tests(report_parts).items()):
        if v.get("Problem") == "true":
            continue  # a module the station left out of its catalog
        t = {"testId": tid, "testType": v.get("TestType", ""), "version": v.get("Version", ""),
             "description": v.get("Description", "")}
        params = parse_parameters(v.get("Parameters", ""))
        if params:
            t["parameter"] = params
        tests.append(t)
    return Catalog.from_tests(tests, source="deviceModel")


def parse_parameters(text):
    """`name:type[min..max]{a|b}=default;...` (SPEC.md section 8) -> a list of
    DiagnosticParameterType dicts.  Parts that cannot be read are skipped."""
    out = []
    for item in (text or "").split(";"):
        name, sep, rest = item.partition(":")
        if not sep or not name:
            continue
        rest, eq, default = rest.partition("=")
        allowed = None
        if "{" in rest and rest.endswith("}"):
            rest, _, alts = rest[:-1].partition("{")
            allowed = alts.split("|")
        lo = hi = None
        if "[" in rest and rest.endswith("]"):
            rest, _, rng = rest[:-1].partition("[")
            lo, _, hi = rng.partition("..")
        p = {"name": name, "dataType": rest, "required": False}
        for key, raw in (("minValue", lo), ("maxValue", hi)):
            if raw:
                num = _number(raw)
                if num is not None:
                    p[key] = num
        if allowed:
            p["allowedValues"] = allowed
        if eq:
            p["defaultValue"] = _typed(rest, default)
        out.append(p)
    return out


def _number(text):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def _typed(data_type, text):
    if data_type in ("integer", "decimal"):
        n = _number(text)
        return text if n is None else n
    if data_type == "boolean":
        return text.lower() == "true"
    return text


# -- NotifyEvent -------------------------------------------------------------

def diagnostic_events(notify_event):
    """The EventData of a NotifyEvent payload that concern diagnostic tests (SPEC.md
    section 9), each as {testId, state, severity, cleared, techInfo, timestamp,
    eventId}.  Other events are not ours: left out."""
    out = []
    for ev in notify_event.get("eventData", ()):
        comp = ev.get("component", {})
        if comp.get("name") != "DiagnosticTest" or not comp.get("instance"):
            continue
        out.append({"testId": comp["instance"], "state": ev.get("actualValue"),
                    "severity": ev.get("severity"), "cleared": bool(ev.get("cleared")),
                    "techInfo": ev.get("techInfo"), "timestamp": ev.get("timestamp"),
                    "eventId": ev.get("eventId")})
    return out
