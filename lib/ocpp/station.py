# Connection life cycle (OCPP 2.1 B01-B04, OCPP-J 2.x section 5): connect with
# back-off, BootNotification until Accepted, then heartbeats, connector status and
# the outbox; reconnect whenever the link drops.
import asyncio
import random
import time

import clock
import log
from ocpp import responses
from ocpp import ws as wsmod
from ocpp.outbox import Outbox
from ocpp.rpc import BadResponse, CallError, Offline


def path_segment(s):
    """The station id as one URL path segment (RFC 3986): unreserved characters stay,
    every other byte of its UTF-8 is %XX. A raw non-ASCII id made the request line
    invalid (the CSMS refused the handshake); a '/', '?' or '#' would change the URL."""
    out = []
    for b in s.encode():
        if 48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 or b in b"-._~":
            out.append(chr(b))
        else:
            out.append("%%%02X" % b)
    return "".join(out)


class Station:
    def __init__(self, agent):
        self.agent = agent
        self.boot_status = None  # None until the first response, then Accepted/Pending/Rejected
        self.boot_reason = "PowerUp"
        self.outbox = Outbox()
        self._boot_now = asyncio.Event()
        self._hb_wake = asyncio.Event()
        self._offline_since = time.ticks_ms()
        self._status_sent = False
        self.last_tx = time.ticks_ms()
        self.connects = 0

    # --- connection -------------------------------------------------------
    def backoff_s(self, attempt):
        """B04 / OCPP-J 5.3: wait minimum, doubled per attempt up to RepeatTimes,
        plus a random part so that a fleet does not reconnect in lockstep."""
        dm = self.agent.dm
        wait = dm.get_int("OCPPCommCtrlr", "RetryBackOffWaitMinimum", None, 10)
        rng = dm.get_int("OCPPCommCtrlr", "RetryBackOffRandomRange", None, 10)
        rep = dm.get_int("OCPPCommCtrlr", "RetryBackOffRepeatTimes", None, 5)
        wait = wait * (1 << min(attempt, rep))
        if rng > 0:
            wait += random.randint(0, rng * 1000) / 1000
        return wait

    async def _connect(self):
        a = self.agent
        cfg = a.cfg
        pw = a.store.get("dm/SecurityCtrlr/BasicAuthPassword") or cfg.get("basicAuthPassword")
        auth = (cfg["stationId"], pw) if pw else None
        ctx = a.tls_context() if cfg["csmsUrl"].startswith("wss://") else None
        protos = ["ocpp" + v for v in cfg["ocppVersions"]]
        url = cfg["csmsUrl"].rstrip("/") + "/" + path_segment(cfg["stationId"])
        timeout = a.dm.get_int("OCPPCommCtrlr", "MessageTimeout", "Default", 30) * 1000
        return await wsmod.connect(url, protos, auth, ctx, cfg["maxMessageSize"], timeout, a.rxbuf)

    async def run(self):
        a = self.agent
        st = [0]  # connection attempts since the CSMS last answered properly
        while not a.stopping:
            try:
                await self._connection(st)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                # This loop must outlive anything (a MemoryError on a nearly full
                # heap, mostly): if it ends, the station never comes back.
                try:
                    log.exc(e, "connection loop")
                except Exception:
                    pass
                await asyncio.sleep(1)

    async def _connection(self, st):
        """One connection: made (or its failure waited out), served until it drops,
        then the back-off before the next."""
        a = self.agent
        try:
            ws = await self._connect()
        except Exception as e:  # ValueError is what mbedTLS raises on a bad certificate
            wait = self.backoff_s(st[0])
            # mbedTLS messages span lines: one log line per attempt.
            log.warn("connect failed: %s: %s; retry in %.1f s", type(e).__name__,
                     " ".join(str(e).split()), wait)
            st[0] += 1
            await asyncio.sleep(wait)
            return
        tasks = []
        try:  # from here on, whatever happens, the socket is closed at the end
            self.connects += 1
            log.info("connected to %s (%s)", a.cfg["csmsUrl"], ws.protocol)
            if log.level <= log.DEBUG:
                # For the leak tests: the live heap must not grow with reconnects.
                import gc
                gc.collect()
                log.debug("connection %d, heap in use %d B", self.connects, gc.mem_alloc())
            a.rpc.attach(ws)
            # One event per connection: a task of the previous one, cancelled late,
            # must not tear this one down.
            down = asyncio.Event()
            tasks.append(a.spawn(self._guard(a.rpc.recv_loop(), "receive", down)))
            tasks.append(a.spawn(self._guard(self._session(), "session", down)))
            if a.dm.get_int("OCPPCommCtrlr", "WebSocketPingInterval", None, 0) > 0:
                tasks.append(a.spawn(self._guard(self._keepalive(ws), "keepalive", down)))
            await down.wait()
        finally:
            for t in tasks:
                t.cancel()
            a.rpc.detach()
            ws._abort()
            self._offline_since = time.ticks_ms()
        if a.stopping:
            return
        # Back-off grows unless the CSMS answered properly on this connection: one
        # that accepts the socket and then answers badly (or drops it at once)
        # must not be hammered with reconnects.
        if a.rpc.answered:
            st[0] = 0
            wait = self.backoff_s(0) / 4
        else:
            wait = self.backoff_s(st[0])
            st[0] += 1
        log.info("disconnected (close code %s); reconnect in %.1f s", ws.close_code, wait)
        ws = None
        await asyncio.sleep(wait)

    async def _guard(self, coro, what, down):
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exc(e, what)
        finally:
            down.set()

    async def _keepalive(self, ws):
        # A half-open TCP link (weak cellular) never errors by itself: ping, and drop
        # the connection when nothing at all came back for two intervals.
        dm = self.agent.dm
        while True:
            iv = dm.get_int("OCPPCommCtrlr", "WebSocketPingInterval", None, 0)
            if iv <= 0:
                return await asyncio.Event().wait()
            await asyncio.sleep(iv)
            last = ws.last_rx or 0
            if time.ticks_diff(time.ticks_ms(), last) > 2 * iv * 1000 + 1000:
                log.warn("no traffic from the CSMS for %d s: reconnecting", 2 * iv)
                return
            await ws.ping()

    # --- session ----------------------------------------------------------
    async def _session(self):
        a = self.agent
        while self.boot_status != "Accepted":
            await self._boot()
        offline_ms = time.ticks_diff(time.ticks_ms(), self._offline_since)
        threshold = a.dm.get_int("OCPPCommCtrlr", "OfflineThreshold", None, 60)
        if not self._status_sent or offline_ms > threshold * 1000:
            # B01.FR.? / G01: after boot, and after an offline period longer than
            # OfflineThreshold, report every connector's status.
            for e, c in a.connectors():
                self.queue_status(e, c)
            self._status_sent = True
        a.on_online()
        hb = a.spawn(self._heartbeats())
        try:
            await self.outbox.drain(a.rpc)  # returns only once the link is lost
        finally:
            hb.cancel()

    async def _boot(self):
        a = self.agent
        cfg = a.cfg
        cs = {"model": cfg["model"], "vendorName": cfg["vendor"]}
        for k in ("serialNumber", "firmwareVersion"):
            if cfg.get(k):
                cs[k] = cfg[k]
        try:
            res = await a.rpc.call("BootNotification", {"chargingStation": cs, "reason": self.boot_reason},
                                   resp=responses.BOOT)
        except CallError as e:  # refused, or a response that does not check: no acceptance
            log.warn("BootNotification refused: %s %s", e.code, e.desc)
            await asyncio.sleep(self.backoff_s(0))
            return
        except asyncio.TimeoutError:
            log.warn("BootNotification: no response")
            return
        self.boot_status = res["status"]
        clock.set_iso(res["currentTime"])
        # Bounded: the CSMS is input too, and ticks arithmetic wraps on huge waits.
        interval = min(res["interval"], 86400)
        log.info("boot %s (interval %d s)", self.boot_status, interval)
        if self.boot_status == "Accepted":
            if interval > 0:
                a.dm.put("OCPPCommCtrlr", "HeartbeatInterval", interval)
            a.store.remove("bootReason")
            return
        # Pending or Rejected: retry after `interval` (B02/B03), earlier if the CSMS
        # triggers a BootNotification.
        self._boot_now.clear()
        try:
            await asyncio.wait_for(self._boot_now.wait(), interval if interval > 0 else self.backoff_s(0))
            self.boot_reason = "Triggered"
        except asyncio.TimeoutError:
            pass

    async def trigger_boot(self):
        self._boot_now.set()

    async def _heartbeats(self):
        dm = self.agent.dm
        while True:
            iv = dm.get_int("OCPPCommCtrlr", "HeartbeatInterval", None, 300)
            due = iv * 1000 - time.ticks_diff(time.ticks_ms(), self.last_tx)
            if due > 0:
                self._hb_wake.clear()
                try:
                    await asyncio.wait_for_ms(self._hb_wake.wait(), due)
                except asyncio.TimeoutError:
                    pass
                continue
            await self.heartbeat()

    async def heartbeat(self):
        try:
            res = await self.agent.rpc.call("Heartbeat", {}, resp=responses.HEARTBEAT)
            clock.set_iso(res["currentTime"])
        except BadResponse:  # logged once by rpc; a broken CSMS repeats itself
            self.last_tx = time.ticks_ms()
        except (CallError, Offline, asyncio.TimeoutError) as e:
            log.warn("heartbeat failed: %s", e)
            self.last_tx = time.ticks_ms()

    def wake_heartbeat(self):
        self._hb_wake.set()

    # --- connector status ---------------------------------------------------
    def _status_payload(self, e, c):
        return {"timestamp": clock.iso(), "connectorStatus": self.agent.connector_status(e, c),
                "evseId": e, "connectorId": c}

    def queue_status(self, e, c):
        self.outbox.put("StatusNotification", self._status_payload(e, c), "st%d.%d" % (e, c))

    async def send_status(self, targets):
        for e, c in targets:
            try:
                await self.agent.rpc.call("StatusNotification", self._status_payload(e, c))
            except (CallError, Offline, asyncio.TimeoutError) as ex:
                log.warn("StatusNotification %d/%d failed: %s", e, c, ex)
