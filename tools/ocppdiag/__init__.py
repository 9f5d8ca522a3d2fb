"""ocppdiag: OCPP 2.1 Advanced Diagnostics for a CSMS built on the `ocpp` package.

    from ocpp.v21 import ChargePoint
    from ocppdiag import DiagnosticsMixin

    class Station(DiagnosticsMixin, ChargePoint):
        pass                                   # your handlers as before

    catalog = await station.get_diagnostics_catalog()
    run = await station.start_diagnostics([("memory", {"minFreeBytes": 5000})])
    for result in await run.wait(60):
        print(result.test_id, result.verdict, result.verified)

Modules: schemas (registration, DataTransfer validation), catalog (assembly, parameter
checks), checksum (result verification), binding (DataTransfer, device model,
NotifyEvent, CustomTrigger), events + station (what the application receives),
calls + handlers (the mixin).
"""

from .binding import AUTO, DATA_TRANSFER, DEFAULT_VENDOR_ID, NATIVE
from .catalog import Catalog
from .checksum import canonical, compute as compute_checksum, verify as verify_checksum
from .errors import CallError, DiagnosticsError, ParameterError, PayloadError, Refused
from .events import CATALOG, EVENT, RESULT, STATUS, DiagnosticsHub, Event, Result
from .handlers import DiagnosticsMixin
from .schemas import register_diagnostics_schemas, register_schema
from .station import Run, StationDiagnostics

__version__ = "0.1.0"

__all__ = ["AUTO", "CATALOG", "CallError", "Catalog", "DATA_TRANSFER", "DEFAULT_VENDOR_ID",
           "DiagnosticsError", "DiagnosticsHub", "DiagnosticsMixin", "EVENT", "Event", "NATIVE",
           "ParameterError", "PayloadError", "RESULT", "Refused", "Result", "Run", "STATUS",
           "StationDiagnostics", "canonical", "compute_checksum", "register_diagnostics_schemas",
           "register_schema", "verify_checksum"]
