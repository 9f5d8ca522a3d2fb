"""The console's replies are input too: the MCP server (stdio, a real process) in front
of a console that answers with wrong shapes, non-JSON, absurd nesting and oversized
refusals.  Every call ends in a result or a tool error the agent can read, the schema
built from a malformed catalog is looser but valid, and the server keeps serving."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mcp_peer import run, stdio_client, tool_json

CATALOG = {"station": "CS-X", "tests": [
    1, "junk", {"testId": 7},
    {"testId": "t1", "description": ["not", "text"], "constraints": "no",
     "expectedDurationS": 12,
     "parameter": [{"name": "p", "dataType": "integer", "minValue": "zero", "maxValue": 5,
                    "allowedValues": "abc", "unit": 42},
                   "junk", {"dataType": "integer"},
                   {"name": "q", "dataType": "enum", "allowedValues": ["ä", 3, "ö"],
                    "required": "yes"}]}]}
REPLIES = {
    ("GET", "/api/whoami"): (200, {"name": "mcp:Ünsinn", "role": "run-intrusive"}),
    ("GET", "/api/stations"): (200, [{"id": 5}, "x", {"id": "CS-X", "catalogFetchedAt": "t",
                                                       "boot": "kein dict"}]),
    ("GET", "/api/stations/CS-X/catalog"): (200, CATALOG),
    ("GET", "/api/stations/CS-X"): (200, b"<html>kein JSON</html>"),
    ("GET", "/api/runs/1"): (200, "nur ein Text"),
    ("GET", "/api/runs/2"): (200, [1, 2]),
    ("GET", "/api/runs"): (200, b"[" * 100000 + b"]" * 100000),
    ("GET", "/api/results"): (500, b"<html>Fehler</html>"),
    ("POST", "/api/stations/CS-X/runs"): (201, {"id": 3, "status": "rejected", "statusInfo": {
        "reasonCode": "X" * 500, "additionalInfo": "ÿ" * 100000}}),
}


class _Fake(BaseHTTPRequestHandler):
    def _answer(self):
        n = int(self.headers.get("content-length") or 0)
        if n:
            self.rfile.read(n)
        status, body = REPLIES.get((self.command, self.path.split("?")[0]),
                                   (404, {"error": {"code": "notfound", "message": "nö"}}))
        if self.headers.get("authorization") == "Bearer cdt_revoked":
            status, body = 401, {"error": {"code": "unauthorized", "message": "unknown token"}}
        if not isinstance(body, bytes):
            body = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *a):
        pass


@pytest.fixture
def fake_console():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_odd_console_replies_become_tool_errors_and_the_server_keeps_serving(fake_console,
                                                                             tmp_path):
    async def session():
        async with stdio_client(fake_console, "cdt_x", str(tmp_path / "audit.jsonl")) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            out = {}
            for name, args in (("get_catalog", {"station": "CS-X"}),
                               ("get_station", {"station": "CS-X"}),
                               ("wait_run", {"run": 1, "timeoutS": 1}),
                               ("get_run", {"run": 2}),
                               ("list_runs", {}),
                               ("get_results", {}),
                               ("list_stations", {}),
                               ("start_diagnostics", {"station": "CS-X", "tests": [
                                   {"testId": "t1", "parameters": {"p": 1}}]}),
                               ("whoami", {})):
                out[name] = tool_json(await c.call_tool(name, args))
            return tools, out

    tools, out = run(session())
    (variant,) = tools["start_diagnostics"].input_schema["properties"]["tests"]["items"]["oneOf"]
    assert variant["x-expectedDurationS"] == 12  # planning fields a catalog has: passed on
    params = variant["properties"]["parameters"]
    assert params["properties"]["p"] == {"type": "integer", "maximum": 5}
    assert params["properties"]["q"]["enum"] == ["ä", "ö"] and "required" not in params
    err, cat = out["get_catalog"]
    assert not err and [t["testId"] for t in cat["tests"]] == ["t1"]
    for name in ("get_station", "wait_run", "get_run", "list_runs", "get_results"):
        err, body = out[name]
        assert err is True and body["error"]["message"], (name, body)
    assert out["wait_run"][1]["error"]["code"] == "bad-reply"
    assert out["get_results"][1]["error"]["httpStatus"] == 500
    assert out["list_stations"][0] is False  # a list, whatever is in it: passed on
    err, body = out["start_diagnostics"]
    assert err is True and body["error"]["code"] == "station-rejected"
    assert body["error"]["reasonCode"] == "X" * 20 and len(body["error"]["message"]) < 1200
    assert out["whoami"] == (False, {"name": "mcp:Ünsinn", "role": "run-intrusive",
                                     "tools": out["whoami"][1]["tools"]})


def test_stdio_server_refuses_to_start_with_a_token_the_console_does_not_know(fake_console,
                                                                              tmp_path):
    import subprocess
    from mcp_peer import MCPSERVER
    p = subprocess.run(MCPSERVER + ["stdio", "--url", fake_console, "--token", "cdt_revoked",
                                    "--audit-log", str(tmp_path / "a.jsonl"),
                                    "--incident-dir", str(tmp_path / "inc")],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 3 and "unknown token" in p.stderr.decode()
    p = subprocess.run(MCPSERVER + ["stdio", "--url", fake_console,
                                    "--audit-log", str(tmp_path / "a.jsonl"),
                                    "--incident-dir", str(tmp_path / "inc")],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                       env={k: v for k, v in __import__("os").environ.items()
                            if not k.startswith("CONSOLE_TOKEN")})
    assert p.returncode == 2 and "token is needed" in p.stderr.decode()
