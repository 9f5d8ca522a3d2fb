"""The diagnostics messages' JSON schemas, registered where the `ocpp` package looks
for validators, so that its validation stays ON for them in both directions.

ocpp.messages.get_validator caches Draft4Validators in messages._validators under
"<Action>Request_<ver>" / "<Action>Response_<ver>" and looks there before reading a
schema file of its own: an entry there is all the package needs.  Without it the
package answers a native diagnostics message with NotImplemented ("Failed to
validate action") and the station falls back to DataTransfer.
"""

import json
import os
import re

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match
from ocpp import messages

from .errors import PayloadError

# CSMS -> station requests, and the station's notifications (CS -> CSMS).
REQUESTS = ("GetDiagnosticsCatalog", "StartDiagnostics", "CancelDiagnostics",
            "GetDiagnosticsResults")
NOTIFICATIONS = ("NotifyDiagnosticsCatalog", "NotifyDiagnosticsStatus", "NotifyDiagnosticsResult")
ACTIONS = REQUESTS + NOTIFICATIONS

_ACTION_RE = re.compile(r"[A-Za-z0-9_]{1,64}")  # also keeps get_validator inside its dir

# The installed package carries the schemas in schemas/; in the repository that is a
# link to docs/diagnostics/schemas, the one copy.
SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")

_validators = {}  # "<Action>Request" -> Draft4Validator, for the DataTransfer binding


def register_schema(action, request_schema, response_schema, versions=("2.1", "2.0.1")):
    """Make a custom action validate in both directions, like a spec action.
    Process-wide, like the package's own cache."""
    if not _ACTION_RE.fullmatch(action):
        raise ValueError("bad action name %r" % action)
    for schema in (request_schema, response_schema):
        Draft4Validator.check_schema(schema)
    req, resp = Draft4Validator(request_schema), Draft4Validator(response_schema)
    _validators[action + "Request"], _validators[action + "Response"] = req, resp
    for ver in versions:
        messages._validators["%sRequest_%s" % (action, ver)] = req
        messages._validators["%sResponse_%s" % (action, ver)] = resp


def register_diagnostics_schemas(root=None, schema_dir=None):
    """Register the seven diagnostics actions.  `root`: a checkout of the agent's
    repository whose docs/diagnostics/schemas to use; default: the schemas this
    package carries."""
    d = schema_dir or (os.path.join(root, "docs", "diagnostics", "schemas") if root else SCHEMA_DIR)
    for action in ACTIONS:
        with open(os.path.join(d, action + "Request.json"), encoding="utf-8") as f, \
                open(os.path.join(d, action + "Response.json"), encoding="utf-8") as g:
            register_schema(action, json.load(f), json.load(g))


def registered():
    return all(a + "Request" in _validators for a in ACTIONS)


# jsonschema keyword -> the OCPP-J 2.x CALLERROR code for a payload that breaks it.
_CODES = {"required": "OccurrenceConstraintViolation", "minItems": "OccurrenceConstraintViolation",
          "maxItems": "OccurrenceConstraintViolation", "type": "TypeConstraintViolation",
          "additionalProperties": "FormatViolation"}


def validate(action, payload, kind="Request"):
    """Raise PayloadError (code as the native message would get, plus the field) unless
    payload is a valid `action` Request/Response.  Used where the package does not
    validate: the `data` of a DataTransfer."""
    if not registered():
        register_diagnostics_schemas()
    v = _validators.get(action + kind)
    if v is None:
        raise PayloadError("NotImplemented", "%s is not a diagnostics action" % action)
    try:
        err = best_match(v.iter_errors(payload))
    except RecursionError:
        raise PayloadError("FormatViolation", "nested too deeply") from None
    if err is None:
        return payload
    where = "/".join(str(p) for p in err.absolute_path)
    text = err.message if len(err.message) <= 200 else err.message[:200] + "..."
    raise PayloadError(_CODES.get(err.validator, "PropertyConstraintViolation"),
                       text + (" at /" + where if where else ""))
