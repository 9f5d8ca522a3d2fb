# GetLog with logType DiagnosticsLog: the results journal is uploaded to the given
# HTTP(S) location, with LogStatusNotification Uploading -> Uploaded / UploadFailure.
# Other log types are not kept by this station.
from ocpp.check import ENUM, INT, OBJ, REQ, STR

REQ = (("log", OBJ | REQ, (("remoteLocation", STR | REQ, 2000), ("oldestTimestamp", STR, None),
                           ("latestTimestamp", STR, None))),
       ("logType", ENUM | REQ, ("DiagnosticsLog", "SecurityLog", "DataCollectorLog")),
       ("requestId", INT | REQ, None),
       ("retries", INT, (0, None)),
       ("retryInterval", INT, None))
FOLLOWS = 1  # answered in follow-up messages: bounded under floods (rpc)


async def report_status(agent):
    """For TriggerMessage(LogStatusNotification): Uploading with its requestId, or Idle."""
    up = agent.diag.upload
    m = {"status": "Uploading", "requestId": up[1]} if up[0] else {"status": "Idle"}
    try:
        await agent.rpc.call("LogStatusNotification", m)
    except Exception as e:
        import log
        log.warn("LogStatusNotification not delivered: %s", e)


def filename(agent):
    """diagnostics-<stationId>-<UTC time, ISO 8601 basic>.ndjson (SPEC.md 10.3): the name
    tells a CSMS that only knows OCPP's log types what the upload holds. It travels in a
    header and in file systems: characters other than A-Z a-z 0-9 . _ - become "_"."""
    import clock
    sid = "".join(c if "a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "._-" else "_"
                  for c in agent.cfg["stationId"])
    return "diagnostics-%s-%s.ndjson" % (sid, clock.iso().replace("-", "").replace(":", ""))


def handle(agent, p):
    from diag.params import rejected
    if p["logType"] != "DiagnosticsLog":
        return rejected("UnsupportedLogType")
    loc = p["log"]["remoteLocation"]
    if not (loc.startswith("http://") or loc.startswith("https://")):
        return rejected("UnsupportedProtocol", "FileTransferProtocols: HTTP,HTTPS")
    # For the security test: scheme://host[:port] only, no path, no user info.
    agent.diag.upload[2] = loc[:loc.index(":")] + "://" + loc.split("/", 3)[2].split("@")[-1][:64]
    name = filename(agent)
    status = "Accepted"
    old = agent.diag.upload[0]
    if old is not None:
        # N01.FR.12: a new request cancels the upload under way.
        old.cancel()
        status = "AcceptedCanceled"
    return {"status": status, "filename": name}, _run(agent, p, name)


async def _run(agent, p, name):
    import asyncio
    import log
    from diag import upload
    from ocpp.rpc import CallError, Offline
    up = agent.diag.upload
    up[0] = asyncio.current_task()
    req = up[1] = p["requestId"]

    async def status(s, info=None):
        if s != "Uploading" and up[0] is asyncio.current_task():
            up[0] = None  # over before its last notification is out
        m = {"status": s, "requestId": req}
        if info:
            m["statusInfo"] = {"reasonCode": info[0], "additionalInfo": info[1][:1024]}
        try:
            await agent.rpc.call("LogStatusNotification", m)
        except (CallError, Offline, asyncio.TimeoutError) as e:
            log.warn("LogStatusNotification %s not delivered: %s", s, e)

    # The schema sets no upper bound; a station does not retry for ever.
    tries = 1 + min(p.get("retries", 1), 10)
    try:
        for attempt in range(tries):
            await status("Uploading")
            try:
                n = await upload.post(agent, p["log"], name)
                log.info("GetLog %d: %d bytes uploaded", req, n)
                await status("Uploaded")
                return
            except Exception as e:
                err = " ".join(str(e).split()) or type(e).__name__
                log.warn("GetLog %d: upload failed: %s", req, err)
                if attempt + 1 == tries:
                    await status("UploadFailure", ("UploadFailed", err))
                    return
            await asyncio.sleep(max(0, min(p.get("retryInterval", 5), 86400)))
    finally:
        if up[0] is asyncio.current_task():
            up[0] = None
