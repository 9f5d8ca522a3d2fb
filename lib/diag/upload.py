# HTTP(S) POST of the results journal (one result per line, application/x-ndjson),
# streamed from flash: the body is never built in RAM. Two passes over the journal:
# one for Content-Length, one to send.
import asyncio

import clock

_TIMEOUT_MS = 30000


def _select(logp):
    lo = logp.get("oldestTimestamp")
    hi = logp.get("latestTimestamp")
    lo = clock.parse(lo) if lo else None
    hi = clock.parse(hi) if hi else None

    def ok(r):
        if lo is None and hi is None:
            return True
        t = clock.parse(r["endTime"])
        return (lo is None or t >= lo) and (hi is None or t <= hi)
    return ok


def _lines(journal, ok):
    import json
    for r in journal.records():
        if ok(r):
            yield (json.dumps(r) + "\n").encode()


async def post(agent, logp, filename):
    """-> bytes sent; raises OSError / ValueError with the reason on failure."""
    from ocpp.ws import parse_url
    url = logp["remoteLocation"]
    tls = url.startswith("https://")
    _, host, port, path = parse_url(("wss://" if tls else "ws://") + url.split("://", 1)[1])
    ok = _select(logp)
    j = agent.diag.journal
    size = 0
    for b in _lines(j, ok):
        size += len(b)
    kw = {}
    if tls:
        if not agent.cfg.get("caFile"):
            raise OSError("https upload needs a CA certificate (caFile in the config)")
        kw["ssl"] = agent.tls_context()
        kw["server_hostname"] = host
    r, w = await asyncio.wait_for_ms(asyncio.open_connection(host, port, **kw), _TIMEOUT_MS)
    try:
        w.write(("POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/x-ndjson\r\n"
                 "Content-Length: %d\r\nContent-Disposition: attachment; filename=\"%s\"\r\n"
                 "Connection: close\r\n\r\n" % (path, host, port, size, filename)).encode())
        sent = 0
        for b in _lines(j, ok):
            if sent + len(b) > size:
                break  # a result journaled meanwhile: it is in the next upload
            w.write(b)
            sent += len(b)
            await asyncio.wait_for_ms(w.drain(), _TIMEOUT_MS)
        if sent < size:
            raise OSError("journal changed during upload")
        line = await asyncio.wait_for_ms(r.readline(), _TIMEOUT_MS)
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[1].startswith(b"2"):
            raise OSError("server answered %s" % line.strip().decode())
        return sent
    finally:
        w.close()
