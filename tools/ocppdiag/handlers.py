"""DiagnosticsMixin: the diagnostics model for a CSMS built on the `ocpp` package.

    class MyChargePoint(DiagnosticsMixin, ocpp.v21.ChargePoint):
        ...your own @on handlers...

adds @on handlers for NotifyDiagnosticsCatalog/Status/Result, answers their
DataTransfer form (our vendorId only; other DataTransfers reach your handler), watches
NotifyEvent and NotifyReport without taking them from your handlers, and the
requests of calls.py.  Importing this module registers the diagnostics schemas, so the
package's validation stays on for them.
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional

from ocpp import messages
from ocpp.exceptions import OCPPError
from ocpp.routing import on

from . import binding, schemas
from .calls import DiagnosticsCalls
from .errors import PayloadError

schemas.register_diagnostics_schemas()

# CALLs whose camelCase payload is kept for the handlers: the package gives handlers
# snake_case keyword arguments, and a result's checksum is over the original keys.
_KEEP = frozenset(schemas.NOTIFICATIONS + ("DataTransfer", "NotifyEvent", "NotifyReport"))


@dataclass
class NotificationResponse:
    """The (empty) response of the three notifications, as the package wants it: a
    dataclass (a plain dict makes it close the connection)."""
    custom_data: Optional[Dict[str, Any]] = None


class DiagnosticsMixin(DiagnosticsCalls):
    """Put it before the ChargePoint class in the bases."""

    # -- the native notifications --

    @on("NotifyDiagnosticsCatalog")
    def on_notify_diagnostics_catalog(self, call_unique_id, **_):
        self.diag.on_catalog_part(self._diag_payload(call_unique_id))
        return NotificationResponse()

    @on("NotifyDiagnosticsStatus")
    def on_notify_diagnostics_status(self, call_unique_id, **_):
        self.diag.on_status(self._diag_payload(call_unique_id))
        return NotificationResponse()

    @on("NotifyDiagnosticsResult")
    def on_notify_diagnostics_result(self, call_unique_id, **_):
        # Acknowledged whatever the checksum says (SPEC.md section 7): the Result
        # event carries verified=False instead.
        self.diag.on_result(self._diag_payload(call_unique_id), binding.NATIVE)
        return NotificationResponse()

    def diag_notification(self, action, payload, via=binding.NATIVE):
        """Feed one notification payload (e.g. from your own DataTransfer handler, or a
        stored one being replayed) -> the Result for a NotifyDiagnosticsResult."""
        if action == "NotifyDiagnosticsCatalog":
            return self.diag.on_catalog_part(payload)
        if action == "NotifyDiagnosticsStatus":
            return self.diag.on_status(payload)
        if action == "NotifyDiagnosticsResult":
            return self.diag.on_result(payload, via)
        raise ValueError("%s is not a diagnostics notification" % action)

    # -- the package's call handling, watched --

    def diag_wants(self, action, payload=None):
        """True for the CALLs this mixin answers or watches (for a ChargePoint that
        routes CALLs itself before calling _handle_call)."""
        return action in _KEEP

    def diag_payload_error(self, action, error, raw):
        """Hook: a diagnostics payload inside a DataTransfer broke its schema (it was
        answered Rejected InvalidPayload)."""

    async def _handle_call(self, msg):
        if msg.action not in _KEEP or not isinstance(msg.payload, dict):
            return await super()._handle_call(msg)
        raw = self.__dict__.setdefault("_diag_raw", {})
        raw[msg.unique_id] = msg.payload
        try:
            if msg.action == "DataTransfer" and msg.payload.get("vendorId") == self.diag_vendor_id:
                return await self._diag_data_transfer(msg)
            if msg.action in ("NotifyEvent", "NotifyReport"):
                await messages.validate_payload(msg, self._ocpp_version)
                if msg.action == "NotifyEvent":
                    self.diag.on_notify_event(msg.payload)
                else:
                    self.diag.on_report(msg.payload)
                if msg.action not in self.route_map:  # nobody else answers it
                    return await self._diag_reply(msg, {})
            return await super()._handle_call(msg)
        finally:
            raw.pop(msg.unique_id, None)

    def _diag_payload(self, unique_id):
        return self.__dict__.get("_diag_raw", {}).get(unique_id, {})

    async def _diag_data_transfer(self, msg):
        """SPEC.md 10.1: Accepted with the response payload as data; UnknownMessageId
        for what a CSMS does not handle; Rejected InvalidPayload for data that breaks
        the schema, naming the CALLERROR code and the field."""
        await messages.validate_payload(msg, self._ocpp_version)
        action, data = msg.payload.get("messageId"), msg.payload.get("data")
        if action not in schemas.NOTIFICATIONS:
            return await self._diag_reply(msg, {"status": "UnknownMessageId"})
        try:
            schemas.validate(action, data)
        except PayloadError as e:
            self.diag_payload_error(action, e, msg.to_json())
            return await self._diag_reply(msg, {"status": "Rejected", "statusInfo": {
                "reasonCode": "InvalidPayload", "additionalInfo": str(e)[:1024]}})
        self.diag_notification(action, data, binding.DATA_TRANSFER)
        return await self._diag_reply(msg, {"status": "Accepted", "data": {}})

    async def _diag_reply(self, msg, payload):
        reply = msg.create_call_result(payload)
        try:
            await messages.validate_payload(reply, self._ocpp_version)
        except OCPPError:  # our bug: answer InternalError rather than an invalid frame
            reply = msg.create_call_error(RuntimeError("invalid reply"))
        await self._send(reply.to_json())
