"""The MCP server as a real process (`tools/mcpserver http|stdio`) over a live console,
and the MCP client of the same `mcp` package to talk to it."""
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys

import pytest

from console_peer import ROOT, wait_until

MCPSERVER = [sys.executable, os.path.join(ROOT, "tools", "mcpserver")]


class McpProc:
    """`mcpserver http` (ready when its endpoint listens) or `mcpserver watch TOKEN`;
    its journal and incident records in `workdir`."""

    def __init__(self, workdir, console_url, kind="http", token=None, name="mcp", extra=()):
        self.workdir = workdir
        self.ready = os.path.join(workdir, name + "-ready.json")
        self.audit_path = os.path.join(workdir, name + "-audit.jsonl")
        self.incident_dir = os.path.join(workdir, "incidents")  # shared by http and watch
        self.log_path = os.path.join(workdir, name + ".log")
        self._log = open(self.log_path, "ab")
        cmd = MCPSERVER + [kind, "--url", console_url, "--audit-log", self.audit_path,
                           "--incident-dir", self.incident_dir] + list(extra)
        env = dict(os.environ)
        cmd += ["--ready-file", self.ready]
        if kind == "http":
            cmd += ["--port", "0"]
        else:
            env["CONSOLE_TOKEN"] = token
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=workdir, env=env)
        # http: the endpoint listens; watch: the event stream is open (nothing missed).
        wait_until(lambda: os.path.exists(self.ready) or self.proc.poll() is not None, 60,
                   "mcpserver %s ready" % kind)
        assert self.proc.poll() is None, self.log()
        with open(self.ready) as f:
            self.url = json.load(f).get("url")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("MCP server did not stop on SIGTERM:\n" + self.log())
        finally:
            self._log.close()
        return rc

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-4000:]

    def audit(self):
        if not os.path.exists(self.audit_path):
            return []
        with open(self.audit_path, encoding="utf-8") as f:
            return [json.loads(line) for line in f]


@contextlib.asynccontextmanager
async def http_client(url, token):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    headers = {"Authorization": "Bearer " + token} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


@contextlib.asynccontextmanager
async def stdio_client(console_url, token, audit_path, **env_extra):
    from mcp import Client, StdioServerParameters
    env = dict(os.environ, CONSOLE_URL=console_url, CONSOLE_TOKEN=token,
               MCP_AUDIT_LOG=audit_path,
               MCP_INCIDENT_DIR=os.path.join(os.path.dirname(audit_path), "incidents"),
               **env_extra)
    params = StdioServerParameters(command=MCPSERVER[0], args=MCPSERVER[1:] + ["stdio"], env=env)
    async with Client(params) as client:
        yield client


def tool_json(result):
    """A CallToolResult -> (is_error, the JSON object it carries)."""
    (block,) = result.content
    return result.is_error, json.loads(block.text)


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def mcp_http(console, tmp_path):
    d = tmp_path / "mcp"
    d.mkdir()
    p = McpProc(str(d), console.api_url)
    yield p
    rc = p.stop()
    log = p.log()
    assert "Traceback" not in log, log
    assert rc == 0, "MCP server exit status %s:\n%s" % (rc, log)
