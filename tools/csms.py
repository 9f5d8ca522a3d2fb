"""Reference CSMS for host tests: the `ocpp` package (2.1.0) on `websockets`.

A strict, observable peer for the agent.  It records everything a station
sends, validates it against the OCPP JSON schemas (through the package's own
validator cache), and lists every schema failure in `Csms.violations`.
Diagnostics come from the ocppdiag library (tools/ocppdiag/): each station's
session is an ocppdiag.DiagnosticsMixin, so a test or an application can

    st = csms.station("CS001")                    # a Station21
    run = await st.start_diagnostics([("memory", {"minFreeBytes": 5000})])
    results = await run.wait(60)                  # checksums verified

Library use (asyncio):

    csms = Csms(port=0, boot_status="Accepted")
    await csms.start()                  # csms.url == "ws://127.0.0.1:PORT"
    ...station connects to csms.url + "/CS001"...
    res = await csms.call("CS001", "GetVariables", {...})
    await csms.stop()

For pytest use tools/harness.py (ThreadedCsms).  CLI:

    python tools/csms.py --port 9000 [--cert C --key K] [--password PW] [--width N] [--log FILE]

This file is the CLI entry point and a facade: the code lives in tools/refcsms/
(transport.py: server, auth, records; validation.py: frames, schemas;
session.py: one station; cli.py) and tools/ocppdiag/ (the diagnostics library).
"""

import os
import sys

# tools/ is a directory of scripts: make its packages importable however this
# module was found.
_TOOLS = os.path.dirname(os.path.abspath(__file__))
if _TOOLS not in sys.path:
    sys.path.insert(0, _TOOLS)

# Module names the old single-file csms.py had, for code that reached through it
# (e.g. csms.messages._validators).
from ocpp import messages, v21, v201  # noqa: E402,F401
from ocpp.routing import on  # noqa: E402,F401

from ocppdiag import register_diagnostics_schemas, register_schema  # noqa: E402
from refcsms.cli import JsonlLog, _main_async, _short, format_diagnostics, format_event, main  # noqa: E402,F401
from refcsms.process import stop_agent  # noqa: E402
from refcsms.session import (  # noqa: E402,F401
    LOG,
    NO_REPLY,
    STATION_CLASSES as _STATION_CLASSES,
    CallErrorReply,
    Station21,
    Station201,
    _Pending,
    _StationMixin,
)
from refcsms.transport import Csms  # noqa: E402
from refcsms.validation import (  # noqa: E402,F401
    CALL,
    CALLERROR,
    CALLRESULT,
    CALLRESULTERROR,
    ERROR_CODES,
    FRAME_LEN as _FRAME_LEN,
    SEND,
    TYPE_NAMES,
    TYPES_BY_VERSION as _TYPES_BY_VERSION,
    UNKNOWN_ID,
    Frame,
    _walk,
    error_text as _error_text,
    load_send_schema as _load_send_schema,
    loose_id as _loose_id,
    minimal_instance,
    now_iso,
    schema_of as _schema,
    validate_incoming as _validate_incoming,
)

__all__ = ["CALL", "CALLERROR", "CALLRESULT", "CALLRESULTERROR", "CallErrorReply", "Csms",
           "ERROR_CODES", "Frame", "NO_REPLY", "SEND", "Station201", "Station21", "TYPE_NAMES",
           "UNKNOWN_ID", "format_event", "main", "minimal_instance", "now_iso",
           "register_diagnostics_schemas", "register_schema", "stop_agent"]

if __name__ == "__main__":
    sys.exit(main())
