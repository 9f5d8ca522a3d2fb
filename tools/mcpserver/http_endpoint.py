"""Streamable HTTP: the MCP endpoint behind a bearer token.

Every HTTP request to the endpoint must carry `Authorization: Bearer <console token>`,
checked with the console before the MCP layer sees a byte: no token or an unknown
one is answered 401 (with WWW-Authenticate) and journaled.  The same token is then
read again per MCP message (server.py), so a session opened with one credential
cannot be driven with another's rights.
"""
import json
import re

from .server import error_body
from .upstream import ConsoleError

_BEARER = re.compile(rb"Bearer ([A-Za-z0-9_\-\.~+/]+=*)")


def bearer(headers):
    """Starlette headers or ASGI header pairs -> the bearer token, or None."""
    if hasattr(headers, "get"):
        value = (headers.get("authorization") or "").encode()
    else:
        value = b"".join(v for k, v in headers if k.lower() == b"authorization")
    m = _BEARER.fullmatch(value)
    return m.group(1).decode() if m else None


class RequireToken:
    """ASGI middleware in front of the MCP app (lifespan passes through)."""

    def __init__(self, app, upstream, audit):
        self.app, self.up, self.audit = app, upstream, audit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        token = bearer(scope.get("headers") or ())
        if token is None:
            return await self._refuse(send, scope, 401, {
                "code": "unauthorized",
                "message": "the MCP endpoint needs a console token: Authorization: Bearer TOKEN"})
        try:
            await self.up.whoami(token)
        except ConsoleError as e:
            status = 401 if e.status in (401, 403) else 503
            return await self._refuse(send, scope, status, error_body(e))
        return await self.app(scope, receive, send)

    async def _refuse(self, send, scope, status, err):
        self.audit.write(transport="http", client=None, method=scope.get("method"),
                         path=scope.get("path"), outcome="refused", httpStatus=status,
                         error=err)
        body = json.dumps({"error": err}, ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="ocpp-diagnostics-mcp"'))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def make_app(diagnostics, upstream, audit, host="127.0.0.1", path="/mcp"):
    inner = diagnostics.server().streamable_http_app(streamable_http_path=path, host=host)
    return RequireToken(inner, upstream, audit)
