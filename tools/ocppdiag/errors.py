"""The exceptions ocppdiag raises, so that an application catches them by kind."""


class DiagnosticsError(Exception):
    """Base of every ocppdiag error."""


class CallError(DiagnosticsError):
    """The station answered our CALL with a CALLERROR (or, over the DataTransfer
    binding, with a DataTransfer status other than Accepted)."""

    def __init__(self, code, description="", details=None):
        super().__init__("%s: %s %s" % (code, description, details or ""))
        self.code, self.description, self.details = code, description, details or {}


class ParameterError(DiagnosticsError, ValueError):
    """A request refused locally, before sending, because the station's catalog says
    the station would refuse it.  `reason` is the reasonCode the station would give
    (UnknownTest, UnknownParameter, InvalidParameter, OutOfRange, MissingParameter);
    the message names the test and the parameter as SPEC.md section 7 asks."""

    def __init__(self, reason, test_id, parameter, text):
        self.reason, self.test_id, self.parameter = reason, test_id, parameter
        where = "test %s" % test_id + (", parameter %s" % parameter if parameter else "")
        super().__init__("%s: %s: %s" % (reason, where, text))


class PayloadError(DiagnosticsError, ValueError):
    """A payload that breaks its schema (e.g. inside a DataTransfer).  `code` is the
    CALLERROR code the native message would have received."""

    def __init__(self, code, text):
        super().__init__("%s: %s" % (code, text))
        self.code, self.text = code, text


class Refused(DiagnosticsError):
    """The station answered a diagnostics request with a status other than Accepted
    (Rejected, Busy, EmptyResultSet...).  `response` is its whole response payload."""

    def __init__(self, action, response):
        info = response.get("statusInfo") or {}
        self.action, self.response = action, response
        self.status, self.reason = response.get("status"), info.get("reasonCode")
        self.info = info.get("additionalInfo")
        super().__init__("%s %s: %s %s" % (action, self.status, self.reason or "",
                                           self.info or ""))
