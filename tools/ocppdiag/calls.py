"""Sending the CSMS's diagnostics requests: GetDiagnosticsCatalog, StartDiagnostics,
CancelDiagnostics, GetDiagnosticsResults (and TriggerMessage CustomTrigger,
GetBaseReport for the DiagnosticTest components), natively or through DataTransfer.

Part of DiagnosticsMixin (handlers.py); works on an `ocpp` ChargePoint as it comes,
whose call() cannot send actions it has no dataclass for.
"""

import asyncio
import itertools
import time

from ocpp import messages
from ocpp.messages import MessageType

from . import binding
from .errors import CallError, PayloadError, Refused
from .schemas import validate
from .station import StationDiagnostics

# Request ids: unique within this process and unlikely to repeat after a restart
# (a station refuses a requestId still running as DuplicateRequest).
_ids = itertools.count(int(time.time()) % 100000 * 1000 + 1)


def next_request_id():
    return next(_ids) % 2**31


def test_request(t):
    """A DiagnosticTestRequestType from "memory", ("memory", {"minFreeBytes": 5000})
    or a dict already in that shape."""
    if isinstance(t, str):
        return {"testId": t}
    if isinstance(t, dict):
        return t
    test_id, params = t
    out = {"testId": test_id}
    if params:
        out["parameter"] = [{"name": k, "value": v} for k, v in params.items()]
    return out


class DiagnosticsCalls:
    """The sending half of DiagnosticsMixin.  Class attributes an application may set:"""

    diag_vendor_id = binding.DEFAULT_VENDOR_ID
    diag_binding = binding.AUTO   # native first; DataTransfer after NotImplemented/NotSupported
    diag_hub = None               # a DiagnosticsHub receiving every station's events
    diag_timeout = None           # seconds per CALL; None: the ChargePoint's response_timeout
    diag_states = None            # a dict station id -> StationDiagnostics: the catalog,
    #                               runs and results then outlive a reconnect

    @property
    def diag(self):
        """This station's StationDiagnostics (catalog, results, runs, events)."""
        d = self.__dict__.get("_diag")
        if d is None:
            states = self.diag_states
            d = states.get(self.id) if states is not None else None
            if d is None:
                d = StationDiagnostics(self.id, self.diag_hub)
                if states is not None:
                    states[self.id] = d
            self.__dict__["_diag"] = d
        return d

    # -- the four requests --

    async def get_diagnostics_catalog(self, test_types=None, test_ids=None, request_id=None,
                                      timeout=None):
        """-> the station's Catalog, once every part has arrived (an empty one for
        EmptyResultSet).  Raises Refused for Rejected."""
        rid = next_request_id() if request_id is None else request_id
        req = {"requestId": rid}
        if test_types:
            req["testType"] = list(test_types)
        if test_ids:
            req["testId"] = list(test_ids)
        fut = self.diag.expect_catalog(rid)
        try:
            res = await self.diag_call("GetDiagnosticsCatalog", req, timeout)
            if res["status"] == "EmptyResultSet":
                from .catalog import Catalog
                return Catalog.from_tests(())
            if res["status"] != "Accepted":
                raise Refused("GetDiagnosticsCatalog", res)
            return await asyncio.wait_for(asyncio.shield(fut), self._diag_timeout(timeout))
        finally:
            self.diag.forget(rid, "catalog")

    async def start_diagnostics(self, tests, request_id=None, requestor=None,
                                stop_on_failure=None, schedule=None, check=True, timeout=None):
        """Start (or schedule) tests; -> the Run (await run.wait() for its results).

        tests: testIds, (testId, {name: value}) pairs or DiagnosticTestRequestType
        dicts.  With check (the default) the parameters are checked against the
        station's catalog first (read once if not known yet): a value the station would
        refuse raises ParameterError naming the test, the parameter and the limit, and
        nothing is sent.  A refusal by the station raises Refused."""
        tests = [test_request(t) for t in tests]
        if check:
            if self.diag.catalog is None:
                await self.get_diagnostics_catalog(timeout=timeout)
            self.diag.catalog.check_request(tests)
        rid = next_request_id() if request_id is None else request_id
        req = {"requestId": rid, "test": tests}
        if requestor is not None:
            req["requestor"] = requestor
        if stop_on_failure is not None:
            req["stopOnFailure"] = stop_on_failure
        if schedule is not None:
            req["schedule"] = schedule
        # Registered before sending: the first result may overtake our reading of the answer.
        run = self.diag.expect_run(rid, [t["testId"] for t in tests])
        try:
            res = await self.diag_call("StartDiagnostics", req, timeout)
        except BaseException:
            self.diag.forget(rid, "run")
            raise
        run.response = res
        if res["status"] != "Accepted":
            self.diag.forget(rid, "run")
            raise Refused("StartDiagnostics", res)
        if schedule is not None:
            self.diag.forget(rid, "run")  # scheduled runs carry no requestId
        return run

    async def run_diagnostics(self, tests, timeout=None, **kw):
        """start_diagnostics, then -> the list of Results."""
        run = await self.start_diagnostics(tests, **kw)
        return await run.wait(timeout)

    async def cancel_diagnostics(self, request_id, timeout=None):
        """-> the CancelDiagnosticsResponse; raises Refused (UnknownRequest)."""
        res = await self.diag_call("CancelDiagnostics", {"requestId": request_id}, timeout)
        if res["status"] != "Accepted":
            raise Refused("CancelDiagnostics", res)
        return res

    async def get_diagnostics_results(self, test_ids=None, from_time=None, to_time=None,
                                      result_id_from=None, max_results=None, request_id=None,
                                      timeout=None):
        """-> the stored Results that match (oldest first; [] for EmptyResultSet)."""
        rid = next_request_id() if request_id is None else request_id
        req = {"requestId": rid}
        for key, v in (("testId", test_ids and list(test_ids)), ("from", from_time),
                       ("to", to_time), ("resultIdFrom", result_id_from),
                       ("maxResults", max_results)):
            if v is not None:
                req[key] = v
        fut = self.diag.expect_results(rid)
        try:
            res = await self.diag_call("GetDiagnosticsResults", req, timeout)
            if res["status"] == "EmptyResultSet":
                return []
            if res["status"] != "Accepted":
                raise Refused("GetDiagnosticsResults", res)
            return await asyncio.wait_for(asyncio.shield(fut), self._diag_timeout(timeout))
        finally:
            self.diag.forget(rid, "results")

    # -- the compatibility binding --

    async def custom_trigger(self, trigger, parameters=None, timeout=None, evse=None):
        """TriggerMessage CustomTrigger (SPEC.md 10.2); -> its response.  Results follow
        as result events (trigger CustomTrigger, no requestId, the `evse` aimed at)."""
        req = binding.custom_trigger_request(trigger, parameters, self.diag_vendor_id, evse)
        return await self._diag_rpc("TriggerMessage", req, self._diag_timeout(timeout))

    async def read_diagnostic_tests(self, timeout=None):
        """GetBaseReport FullInventory; -> (testId -> DiagnosticTest variables,
        DiagnosticsCtrlr variables).  Also sets diag.catalog from them when no native
        catalog is known."""
        rid = next_request_id()
        fut = self.diag.expect_report(rid)
        try:
            res = await self._diag_rpc("GetBaseReport", {"requestId": rid,
                                                         "reportBase": "FullInventory"},
                                       self._diag_timeout(timeout))
            if res.get("status") != "Accepted":
                raise Refused("GetBaseReport", res)
            parts = await asyncio.wait_for(asyncio.shield(fut), self._diag_timeout(timeout))
        finally:
            self.diag.forget(rid, "report")
        if self.diag.catalog is None:
            self.diag.catalog = binding.catalog_from_report(parts)
        return binding.diagnostic_tests(parts), binding.diagnostics_ctrlr(parts)

    # -- one CALL, over the binding in use --

    async def diag_call(self, action, payload, timeout=None):
        """Send a diagnostics request; -> its response payload, validated."""
        timeout = self._diag_timeout(timeout)
        if self.diag_binding != binding.DATA_TRANSFER:
            try:
                return await self._diag_rpc(action, payload, timeout)
            except CallError as e:
                if self.diag_binding == binding.NATIVE or e.code not in (
                        "NotImplemented", "NotSupported"):
                    raise
                self.diag_binding = binding.DATA_TRANSFER  # this station, from now on
        res = await self._diag_rpc("DataTransfer", binding.data_transfer_request(
            action, payload, self.diag_vendor_id), timeout)
        if res.get("status") != "Accepted":
            info = res.get("statusInfo") or {}
            raise CallError(res.get("status"), info.get("additionalInfo", ""), info)
        data = res.get("data")
        try:
            return validate(action, data if isinstance(data, dict) else {}, "Response")
        except PayloadError as e:
            raise CallError("InvalidCallResult", "DataTransfer %s: %s" % (action, e)) from None

    def _diag_timeout(self, timeout):
        return timeout or self.diag_timeout or getattr(self, "_response_timeout", 30)

    async def _diag_rpc(self, action, payload, timeout):
        """One CALL with a camelCase dict -> the validated CALLRESULT payload; raises
        CallError.  Uses the package's lock and response queue; a ChargePoint with its
        own request machinery overrides this."""
        msg = messages.Call(str(self._unique_id_generator()), action, payload)
        await messages.validate_payload(msg, self._ocpp_version)
        async with self._call_lock:
            await self._send(msg.to_json())
            resp = await self._get_specific_response(msg.unique_id, timeout)
        if resp.message_type_id == MessageType.CallError:
            raise CallError(resp.error_code, resp.error_description, resp.error_details)
        resp.action = action
        await messages.validate_payload(resp, self._ocpp_version)
        return resp.payload
