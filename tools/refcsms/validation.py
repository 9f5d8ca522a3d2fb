"""What the reference CSMS checks in what stations send: OCPP-J frames (Frame) and
payloads against the OCPP JSON schemas, through the `ocpp` package's validator cache
(custom actions are registered there by ocppdiag.schemas.register_schema).

What the package does not do for 2.1 and this adds (see /work/shared/platform-notes.md):
reads frames loosely so that a bad one is answered instead of crashing the loop, maps a
missing field to OccurrenceConstraintViolation, validates SEND payloads, and builds the
smallest schema-valid reply for any spec action (minimal_instance).
"""

import json
import os
import re
from datetime import datetime, timezone

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match
from ocpp import messages
from ocpp.exceptions import (
    FormatViolationError,
    OccurrenceConstraintViolationError,
    OCPPError,
    ProtocolError,
)

# Message type ids.  5 (CALLRESULTERROR) and 6 (SEND) exist from OCPP 2.1 on.
CALL, CALLRESULT, CALLERROR, CALLRESULTERROR, SEND = 2, 3, 4, 5, 6
TYPE_NAMES = {CALL: "CALL", CALLRESULT: "CALLRESULT", CALLERROR: "CALLERROR",
              CALLRESULTERROR: "CALLRESULTERROR", SEND: "SEND"}
# Element count per message type: [type, id, ...].
FRAME_LEN = {CALL: 4, CALLRESULT: 3, CALLERROR: 5, CALLRESULTERROR: 5, SEND: 4}
TYPES_BY_VERSION = {"2.0.1": (CALL, CALLRESULT, CALLERROR),
                     "2.1": (CALL, CALLRESULT, CALLERROR, CALLRESULTERROR, SEND)}
# The RPC error codes of OCPP-J 2.x.
ERROR_CODES = frozenset((
    "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported",
    "NotImplemented", "NotSupported", "OccurrenceConstraintViolation",
    "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
    "TypeConstraintViolation"))

# OCPP-J: a CALLERROR answering a message whose id is unreadable uses "-1".
UNKNOWN_ID = "-1"

_ACTION_RE = re.compile(r"[A-Za-z0-9_]{1,64}")  # also keeps get_validator inside its dir


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def schema_of(message_type, action, version):
    """The package's schema dict for action, or None if it has none."""
    if not isinstance(action, str) or not _ACTION_RE.fullmatch(action):
        return None
    try:
        return messages.get_validator(message_type, action, version).schema
    except (OSError, ValueError):
        return None


def minimal_instance(schema, root=None):
    """Smallest value valid for `schema`: required fields only, enums prefer
    "Accepted".  Used to accept any spec action without a hand-written handler."""
    root = root or schema
    while "$ref" in schema:  # OCPP schemas only use "#/definitions/Name"
        schema = _walk(root, schema["$ref"])
    if "enum" in schema:
        return "Accepted" if "Accepted" in schema["enum"] else schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: minimal_instance(props.get(k, {}), root) for k in schema.get("required", ())}
    if kind == "array":
        return [minimal_instance(schema.get("items", {}), root)
                for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return now_iso() if schema.get("format") == "date-time" else "x" * schema.get("minLength", 0)
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return None


def load_send_schema(action, version):
    """SEND payload schemas are named "<Action>.json" in the package (no
    "Request" suffix), which get_validator never looks for.  Cache them under
    the key it does look for, so validate_payload(Call) checks SEND too."""
    key = "%sRequest_%s" % (action, version)
    if key in messages._validators or not _ACTION_RE.fullmatch(action):
        return
    path = os.path.join(os.path.dirname(messages.__file__),
                        "v" + version.replace(".", ""), "schemas", action + ".json")
    try:
        with open(path, encoding="utf-8-sig") as f:
            messages._validators[key] = Draft4Validator(json.load(f))
    except OSError:
        pass  # unknown: validate_payload reports NotImplemented


def _walk(root, ref):
    node = root
    for part in ref.lstrip("#").strip("/").split("/"):
        node = node[part]
    return node


async def validate_incoming(msg, version):
    """Package validation, with the OCPP-J 2.x error code for a missing field.

    The package maps a missing required property (and only that) to
    ProtocolError; OCPP-J 2.x says OccurrenceConstraintViolation.
    """
    try:
        await messages.validate_payload(msg, version)
    except ProtocolError as e:
        raise OccurrenceConstraintViolationError(details=e.details) from e
    except OCPPError:
        raise
    except Exception as e:  # e.g. RecursionError inside jsonschema
        raise FormatViolationError(details={"cause": repr(e)[:200]}) from e


# --- frames --------------------------------------------------------------

class Frame:
    """A loosely parsed OCPP-J frame.  Never raises; `problem` says what is wrong."""

    def __init__(self, text, types=tuple(FRAME_LEN)):
        self.text, self.type, self.id, self.action, self.payload = text, None, None, None, None
        self.problem = None
        self.unsupported_type = False  # readable but not one of `types`
        self._parse(text, types)

    def _parse(self, text, types):
        if not isinstance(text, str):
            self.problem = "binary frame (OCPP-J uses text frames)"
            return
        try:
            data = json.loads(text)
        except RecursionError:
            self.problem = "JSON nested too deeply"
            return
        except (ValueError, TypeError) as e:
            self.problem = "not JSON: %s" % e
            return
        if not isinstance(data, list) or not data:
            self.problem = "not a non-empty JSON array"
            return
        if len(data) > 1 and isinstance(data[1], str):
            self.id = data[1]
        if type(data[0]) is not int or data[0] not in types:
            self.problem = "unsupported message type %r" % (data[0],)
            self.unsupported_type = True
            return
        self.type = data[0]
        if len(data) != FRAME_LEN[self.type]:
            self.problem = "%s with %d elements" % (TYPE_NAMES[self.type], len(data))
            return
        if self.id is None or len(self.id) > 36:
            self.problem = "message id %r is not a string of at most 36 chars" % (data[1],)
            return
        if self.type in (CALL, SEND):
            self.action, self.payload = data[2], data[3]
            if not isinstance(self.action, str):
                self.problem = "action %r is not a string" % (self.action,)
        elif self.type == CALLRESULT:
            self.payload = data[2]
        else:
            code, desc, details = data[2:]
            self.payload = {"errorCode": code, "errorDescription": desc, "errorDetails": details}
            if not (isinstance(code, str) and isinstance(desc, str) and isinstance(details, dict)):
                self.problem = "malformed %s fields" % TYPE_NAMES[self.type]
        if self.problem is None and not isinstance(self.payload, dict):
            self.problem = "payload is not a JSON object"

    @property
    def kind(self):
        """Record type: a frame with a problem is "RAW"."""
        return "RAW" if self.problem else TYPE_NAMES[self.type]


def loose_id(text):
    """Message id of a frame we are about to send raw, if it has a readable one."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, list) and len(data) > 1 and isinstance(data[1], str):
        return data[1]
    return None


def error_text(e, msg=None, version=None):
    """One readable line for a validation failure of `msg`.

    The package's cause text can embed the whole payload and a multi-line
    jsonschema report; the best-matching jsonschema error with its JSON path
    says more in less.
    """
    cause = e.details.get("cause") if isinstance(e.details, dict) else None
    text = str(cause or e.description).strip().split("\n")[0]
    if msg is not None:
        try:
            validator = messages.get_validator(msg.message_type_id, msg.action, version)
            err = best_match(validator.iter_errors(msg.payload))
        except Exception:  # no schema, or RecursionError: keep the package's text
            err = None
        if err is not None:
            where = "/".join(str(p) for p in err.absolute_path)
            text = "%s%s" % (err.message, " at /" + where if where else "")
    text = "%s: %s" % (e.code, text)
    return text if len(text) <= 300 else text[:300] + "..."
