# Energy meter self test: one Modbus read from the station's meter over RS485 (RTU) or
# Modbus TCP. Checks that the meter answers, that the answer is well formed (CRC, unit,
# function, length) and that the value is plausible. The line settings default to the
# `Meter` component of the device model (config section `meter`), so a CSMS sees and
# changes them with GetVariables/SetVariables; the run's parameters override them.
#
# Verdicts: Failed when the meter chain misbehaves (no answer, bad frames, a Modbus
# exception, an implausible value, a TCP peer refusing); Error when the station cannot
# even try (the device cannot be opened, is not a serial line, bad parameter mix);
# Skipped when no meter is wired at all (no port or host configured): a station
# without a meter must not count as having a failed self test (health check).
import asyncio
import time

TYPE = "SelfTest"
VERSION = "1.0"
DESCRIPTION = ("Reads a value from the energy meter (Modbus RTU on RS485, or Modbus TCP) and "
               "checks the answer and its plausibility. Defaults fit an Eastron SDM-style meter: "
               "unit 1, 9600 8N1, input registers, float32 voltage at register 0")
# Literal strings only: frozen or in ROMFS they stay in flash (a "+" would build them in RAM).
PARAMS = (
    ("transport", "enum", None, None, None, ("rtu", "tcp"), None, False,
     "rtu or tcp; default: the Meter component (config meter section), else rtu"),
    ("unitId", "integer", None, 1, 247, None, None, False,
     "Modbus unit id; default: the Meter component (config meter section), else 1"),
    ("baud", "integer", "bd", 1200, 115200, None, None, False,
     "RTU baud rate; default: the Meter component (config meter section), else 9600"),
    ("parity", "enum", None, None, None, ("N", "E", "O"), None, False,
     "RTU parity; default: the Meter component (config meter section), else N"),
    ("stopBits", "integer", None, 1, 2, None, None, False,
     "RTU stop bits; default: the Meter component (config meter section), else 1"),
    ("function", "enum", None, None, None, ("input", "holding"), "input", False,
     "input registers (function 4, where SDM meters keep measurements) or holding registers (3)"),
    ("register", "integer", None, 0, 65535, None, 0, False, "first register, 0-based protocol address"),
    ("count", "integer", None, 1, 16, None, None, False,
     "registers read, a multiple of the decoding's size; default: one value"),
    ("decoding", "enum", None, None, None, ("uint16", "int16", "uint32", "int32", "float32"), "float32",
     False, "how registers become values"),
    ("wordOrder", "enum", None, None, None, ("big", "little"), "big", False,
     "32-bit values: big = high word first (SDM and most meters)"),
    ("scale", "decimal", None, None, None, None, 1, False, "value = decoded x scale"),
    ("minValue", "decimal", None, None, None, None, 180, False, "lowest plausible value (230 V -22%)"),
    ("maxValue", "decimal", None, None, None, None, 260, False, "highest plausible value (230 V +13%)"),
    ("unit", "string", None, None, None, None, "V", False, "unit of the value, at most 20 characters"),
    ("timeoutMs", "integer", "ms", 10, 5000, None, 500, False, "answer timeout per request"),
    ("retries", "integer", None, 0, 5, None, 2, False, "further tries after no answer or a bad frame"),
    ("host", "string", None, None, None, None, None, False,
     "Modbus TCP host (IP address); default: the Meter component (config meter section)"),
    ("port", "integer", None, 1, 65535, None, None, False,
     "Modbus TCP port; default: the Meter component (config meter section), else 502"),
)
# The meter is one shared bus: two reads must never interleave. Worst case: 6 tries of
# 5 s (+ 5 s TCP connect each).
CONSTRAINTS = (None, False, ("meter",), 90, 0, False)
MEASURES = (("responseTime", "ms", "<= timeoutMs"), ("retries", None, "<= retries"),
            ("crcErrors", None, None), ("badFrames", None, None), ("exceptionCode", None, None),
            ("txBytes", "B", None), ("rxBytes", "B", None), ("value", None, "minValue..maxValue"))
VERDICTS = ("Passed", "Failed", "Error", "Skipped", "TimedOut", "Aborted")
# One meter for the station (the Meter component has no EVSE): a station-wide test.
SCOPE = "station"
CLASSES = ("MeterReachability",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (0, 0, 0, "Local")  # RS485 or Modbus TCP on the site: no traffic beyond it
OUTCOME = ("Passed: the meter answered a well-formed frame and every value read is within "
           "minValue..maxValue")

# decoding -> (registers per value, struct format)
_CODECS = ("uint16", 1, "H", "int16", 1, "h", "uint32", 2, "I", "int32", 2, "i", "float32", 2, "f")


def _fmt(v):
    if type(v) is float:
        s = "%.3f" % v
        return s.rstrip("0").rstrip(".") if "." in s else s
    return str(v)


def _setting(ctx, param, var, default, conv):
    """A run parameter, else the Meter component's value, else `default`."""
    v = ctx.p.get(param)
    return _stored(ctx, var, default, conv) if v is None else v


def _stored(ctx, var, default, conv):
    # The component's value: SetVariables, else the config's meter section (model/meter.py).
    v = ctx.agent.dm.get("Meter", var)
    if v:
        try:
            return conv(v)
        except ValueError:
            pass
    return default


def decode(data, decoding, order, count):
    """Register bytes (big-endian per register) -> values."""
    import struct
    i = _CODECS.index(decoding)
    size, code = _CODECS[i + 1], _CODECS[i + 2]
    n = count // size
    b = bytearray(data)
    if size == 2 and order == "little":  # low word first: swap the words of each value
        for k in range(0, len(b), 4):
            b[k:k + 4] = b[k + 2:k + 4] + b[k:k + 2]
    return struct.unpack(">" + code * n, b)


def _client(ctx, s):
    """The transport for settings `s`; None after ctx.fail when it cannot be set up."""
    if s["transport"] == "tcp":
        if not s["host"]:
            ctx.fail("NotConfigured", "no Modbus TCP host: set Meter.Host or the host parameter")
            return None
        from modbus.tcp import Tcp
        return Tcp(s["host"], s["port"])
    from modbus import serialport
    from modbus.rtu import Rtu
    cfg = ctx.agent.cfg.get("meter") or {}
    dev = s["device"]
    if not dev and cfg.get("uart") is None:
        ctx.fail("NotConfigured", "no meter port: set meter.device (unix) or meter.uart (board) in the "
                 "configuration, or Meter.Device")
        return None
    try:
        if dev:
            port = serialport.DevPort(dev, s["baud"], s["parity"], s["stop"])
        else:
            port = serialport.UartPort(cfg["uart"], cfg.get("tx"), cfg.get("rx"), cfg.get("de"),
                                       s["baud"], s["parity"], s["stop"])
    except (OSError, ValueError) as e:
        ctx.fail("PortError", "cannot open the meter port %s: %s" % (dev or "UART %s" % cfg["uart"], e))
        return None
    return Rtu(port)


async def run(ctx):
    p = ctx.p
    s = {"transport": _setting(ctx, "transport", "Transport", "rtu", str),
         "unit": _setting(ctx, "unitId", "UnitId", 1, int),
         "baud": _setting(ctx, "baud", "Baud", 9600, int),
         "parity": _setting(ctx, "parity", "Parity", "N", str),
         "stop": _setting(ctx, "stopBits", "StopBits", 1, int),
         "host": _setting(ctx, "host", "Host", None, str),
         "port": _setting(ctx, "port", "Port", 502, int),
         "device": _stored(ctx, "Device", None, str)}
    i = _CODECS.index(p["decoding"])
    count = p.get("count") or _CODECS[i + 1]
    if count % _CODECS[i + 1] or len(p["unit"]) > 20 or p["minValue"] > p["maxValue"]:
        ctx.fail("BadParameter", "count must be a multiple of %d for %s, unit at most 20 characters, "
                 "minValue <= maxValue" % (_CODECS[i + 1], p["decoding"]))
        return "Error"
    from modbus import frame
    client = _client(ctx, s)
    if client is None:
        _drop()
        return "Skipped" if ctx.reason[0] == "NotConfigured" else "Error"
    try:
        return await _exchange(ctx, client, frame, s, count)
    finally:
        # Also on cancel and timeout: the port or socket must not leak.
        await client.close()
        _drop()


def _drop():
    # The registry drops this module after the run; the Modbus code it imported goes
    # too, so a meter read now and then costs no RAM in between (lazy.py). umodbus goes
    # as a whole (its package with it); modbus.* must also leave their package's
    # attributes, which lazy.drop does.
    import sys
    import lazy
    for name in [n for n in sys.modules if n.startswith("modbus.") or n.startswith("umodbus")]:
        if name[0] == "u":
            sys.modules.pop(name)
        else:
            lazy.drop(name)


async def _exchange(ctx, client, frame, s, count):
    p = ctx.p
    fc = frame.HOLDING if p["function"] == "holding" else frame.INPUT
    pdu = frame.read_request(fc, p["register"], count)
    tries = p["retries"] + 1
    answer = None
    last_err = None
    rt = 0
    for n in range(1, tries + 1):
        t0 = time.ticks_ms()
        try:
            answer = await client.request(s["unit"], pdu, frame.response_len(count), p["timeoutMs"])
        except asyncio.TimeoutError:
            continue
        except frame.BadFrame as e:  # counted by the client
            last_err = e.args[0]
            continue
        except (OSError, EOFError) as e:
            if s["transport"] != "tcp":
                ctx.fail("PortError", "meter port: %s" % e)
                _counters(ctx, client, n - 1)
                return "Error"
            last_err = str(e)
            await client.close()  # reconnect on the next try
            continue
        try:
            code = frame.check(answer, fc, count)
        except frame.BadFrame as e:  # CRC right, content wrong: a meter bug, not noise
            client.bad_frames += 1
            last_err = "malformed answer: %s" % e.args[0]
            answer = None
            continue
        rt = time.ticks_diff(time.ticks_ms(), t0)
        break
    _counters(ctx, client, n - 1)
    who = "unit %d" % s["unit"] + (" at %s:%s" % (s["host"], s["port"]) if s["transport"] == "tcp" else "")
    if answer is None:
        ev = "no %sanswer from %s after %d tries" % ("usable " if client.rx else "", who, tries)
        if client.crc_errors:
            ev += "; bad CRC (%d frames)" % client.crc_errors
        if client.bad_frames:
            ev += "; malformed (%d frames)" % client.bad_frames
        if last_err:
            ev += "; last: %s" % last_err
        ctx.evidence(ev)
        why = "BadCrc" if client.crc_errors else "BadFrame" if client.bad_frames else "NoAnswer"
        if s["transport"] == "tcp" and not client.rx and last_err:
            why = "NoConnection"
        ctx.fail(why, ev)
        return "Failed"
    ctx.measure("responseTime", rt, "ms", "<= %d" % p["timeoutMs"], rt <= p["timeoutMs"])
    if code:
        ctx.measure("exceptionCode", code)
        ev = "exception %d (%s) from %s for %s register %d count %d" % (
            code, frame.exc_name(code), who, p["function"], p["register"], count)
        ctx.evidence(ev)
        ctx.fail("ModbusException", ev)
        return "Failed"
    return _judge(ctx, answer, count, who, rt)


def _counters(ctx, client, retries):
    ctx.measure("retries", retries, None, "<= %d" % ctx.p["retries"], True)
    ctx.measure("crcErrors", client.crc_errors)
    ctx.measure("badFrames", client.bad_frames)
    ctx.measure("txBytes", client.tx, "B")
    ctx.measure("rxBytes", client.rx, "B")


def _judge(ctx, answer, count, who, rt):
    p = ctx.p
    lo, hi, unit = p["minValue"], p["maxValue"], p["unit"]
    limit = "%s..%s" % (_fmt(lo), _fmt(hi))
    bad = []
    for v in decode(answer[2:], p["decoding"], p["wordOrder"], count):
        v = v * p["scale"]
        if v != v or v in (float("inf"), float("-inf")):
            # A float32 NaN/inf (an SDM meter's "no reading"): JSON cannot carry it.
            bad.append("value %s is not a number" % v)
            continue
        ok = lo <= v <= hi
        ctx.measure("value", v, unit, limit, ok)
        if not ok:
            bad.append("value %s %s outside %s %s" % (_fmt(v), unit, limit, unit))
    if bad:
        ev = "; ".join(bad)
        ctx.evidence(ev)
        ctx.fail("OutOfRange", ev)
        return "Failed"
    ctx.evidence("%s answered in %d ms: %s %s within %s %s" % (
        who, rt, ", ".join(_fmt(m["value"]) for m in ctx.meas if m["name"] == "value"), unit, limit, unit))
    return "Passed"
