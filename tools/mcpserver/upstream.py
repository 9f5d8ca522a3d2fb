"""The console's HTTP API as the MCP server uses it: asynchronous, one token per call.

One connection pool serves every MCP client; the token travels with each request, so a
streamable-HTTP server holding many agents' sessions never mixes their identities.
The console's answers are input too: anything that is not the JSON it documents
becomes a ConsoleError, never an exception the MCP layer did not expect.
"""
import httpx


class ConsoleError(Exception):
    """A refusal or failure from the console: `status` (HTTP, or 0 when the console was
    not reached) and `error` (the console's {"code", "message", ...details})."""

    def __init__(self, status, error):
        super().__init__(error.get("message", "console error"))
        self.status, self.error = status, error


class Upstream:
    def __init__(self, url, timeout=30.0, ca_file=None):
        self.url = url.rstrip("/")
        verify = True
        if ca_file:
            import ssl
            verify = ssl.create_default_context(cafile=ca_file)
        self.http = httpx.AsyncClient(base_url=self.url, timeout=timeout, verify=verify)

    async def close(self):
        await self.http.aclose()

    async def request(self, token, method, path, body=None, params=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        if params:
            params = {k: v for k, v in params.items() if v is not None}
        try:
            r = await self.http.request(method, path, json=body, params=params or None,
                                        headers=headers)
        except httpx.HTTPError as e:
            raise ConsoleError(0, {"code": "console-unreachable",
                                   "message": "console not reachable at %s: %s" % (self.url, e)})
        try:
            data = r.json()
        except (ValueError, RecursionError):  # not JSON, bad UTF-8, nested too deep
            data = None
        if r.status_code >= 400:
            err = data.get("error") if isinstance(data, dict) else None
            if not isinstance(err, dict):
                err = {"code": "http", "message": "HTTP %d: %s" % (r.status_code, r.text[:300])}
            raise ConsoleError(r.status_code, err)
        if data is None:
            raise ConsoleError(r.status_code, {"code": "bad-reply",
                                               "message": "console answered without JSON"})
        return data

    async def get(self, token, path, **params):
        return await self.request(token, "GET", path, params=params)

    async def post(self, token, path, body):
        return await self.request(token, "POST", path, body)

    async def whoami(self, token):
        """-> {"name", "role"} of the token, or raises ConsoleError (401 unknown)."""
        me = await self.get(token, "/api/whoami")
        if not (isinstance(me, dict) and isinstance(me.get("name"), str)
                and isinstance(me.get("role"), str)):
            raise ConsoleError(502, {"code": "bad-reply", "message": "whoami: unexpected reply"})
        return me
