"""The CLI's side of the HTTP API: requests, errors as exit codes, the event stream.

Exit codes (a script can test them):
  0  done; every test passed
  1  a test did not pass (Failed, Error, TimedOut, Aborted...), or the station refused the run
  2  usage: bad arguments, or a value the API refused (422, naming the parameter and limit)
  3  authentication or role: no token, unknown token (401), role too low (403)
  4  unreachable: the station is not connected (503), or a fleet run had unreachable stations
  5  anything else: console not reachable, no such station/run (404), conflict (409)
"""
import json
import os
import time

import httpx

OK, FAILED, USAGE, AUTH, UNREACHABLE, OTHER = 0, 1, 2, 3, 4, 5
_BY_STATUS = {400: USAGE, 401: AUTH, 403: AUTH, 413: USAGE, 422: USAGE, 503: UNREACHABLE}


class ApiError(Exception):
    def __init__(self, message, code, body=None, status=None):
        super().__init__(message)
        self.exit_code, self.body, self.status = code, body, status


class Client:
    def __init__(self, url, token, timeout=30.0, ca_file=None):
        self.url = url.rstrip("/")
        headers = {"Authorization": "Bearer " + token} if token else {}
        verify = True
        if ca_file:
            import ssl
            verify = ssl.create_default_context(cafile=ca_file)
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout,
                                 verify=verify)

    def request(self, method, path, body=None, params=None):
        try:
            r = self.http.request(method, path, json=body, params=params)
        except httpx.HTTPError as e:
            raise ApiError("console not reachable at %s: %s" % (self.url, e), OTHER)
        try:
            data = r.json()
        except ValueError:
            data = {"error": {"code": "http", "message": r.text[:300]}}
        if r.status_code >= 400:
            err = data.get("error", {}) if isinstance(data, dict) else {}
            raise ApiError("%s (HTTP %d)" % (err.get("message", r.reason_phrase), r.status_code),
                           _BY_STATUS.get(r.status_code, OTHER), data, r.status_code)
        return data

    def get(self, path, **params):
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path, body):
        return self.request("POST", path, body)

    def events(self, deadline, **params):
        """Yield events (dicts) from the SSE stream until the caller stops or `deadline`."""
        params = {k: v for k, v in params.items() if v is not None}
        params["follow"] = 1
        try:
            with self.http.stream("GET", "/api/events", params=params,
                                  headers={"Accept": "text/event-stream"}) as r:
                if r.status_code >= 400:
                    r.read()
                    raise ApiError("event stream refused (HTTP %d)" % r.status_code,
                                   _BY_STATUS.get(r.status_code, OTHER))
                for line in r.iter_lines():
                    if time.monotonic() > deadline:
                        return
                    if line.startswith("data: "):
                        yield json.loads(line[6:])
        except httpx.HTTPError as e:
            raise ApiError("event stream lost: %s" % e, OTHER)


def token_from(token, token_file):
    if token:
        return token
    path = token_file or os.environ.get("CONSOLE_TOKEN_FILE")
    if path:
        with open(path) as f:
            return f.read().strip()
    return None


def run_finished(run):
    return run["status"] in ("rejected", "unreachable") or run["verdict"] is not None


def run_exit_code(runs):
    if any(r["status"] == "rejected" or r["verdict"] not in (None, "Passed") for r in runs):
        return FAILED
    if any(r["status"] == "unreachable" for r in runs):
        return UNREACHABLE
    return OK


def parse_tests(words):
    """memory minFreeBytes=5000 health -> [{testId, parameters}]: a word with '='
    is a parameter of the test before it."""
    tests = []
    for w in words:
        if "=" in w:
            if not tests:
                raise ValueError("parameter %r comes before any test id" % w)
            k, v = w.split("=", 1)
            tests[-1]["parameters"][k] = v
        else:
            tests.append({"testId": w, "parameters": {}})
    if not tests:
        raise ValueError("no test id given")
    return tests


def parse_age(text):
    """'1d', '2h', '30m', '45s' or an RFC 3339 time -> RFC 3339 time."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if text and text[-1] in units and text[:-1].isdigit():
        t = time.time() - int(text[:-1]) * units[text[-1]]
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    return text
