# A charger firmware in miniature, for the host tests (MicroPython):
#   micropython embed_station.py BUILD_DIR CONFIG PORT [TESTS_DIR]
# It owns the asyncio loop, starts the agent inside it with main.embed() as a real
# firmware would, and calls the embedding API (lib/charger.py) when the test asks,
# over a line protocol on 127.0.0.1:PORT: one command a line, one answer a line,
# "ok <JSON>" or "error <exception>: <message>". TESTS_DIR holds the charger's own
# test modules, outside lib/. "stop" on stdin stops the agent as for main.py.
import asyncio
import json
import sys

sys.path.insert(0, sys.argv[1])
import main  # noqa: E402  (the built tree's main.py: puts lib/ on sys.path)

if len(sys.argv) > 4:
    sys.path.append(sys.argv[4])

A = None


def command(words):
    ch = A.charger
    op = words[0]
    if op == "set":  # set EVSE CONNECTOR STATUS
        return ch.set_connector(int(words[1]), int(words[2]), words[3])
    if op == "session":  # session on|off [EVSE]
        if words[1] not in ("on", "off"):
            return ch.session(words[1])  # what a sloppy firmware passes: refused
        return ch.session(words[1] == "on", int(words[2]) if len(words) > 2 else None)
    if op == "register":  # register MODULE [TESTID]
        __import__(words[1])
        return ch.register_test(sys.modules[words[1]], words[2] if len(words) > 2 else None)
    if op == "health":
        return ch.last_health()
    if op == "may_charge":
        return ch.may_charge()
    if op == "connector":
        return ch.connector(int(words[1]), int(words[2]))
    raise ValueError("unknown command %s" % op)


async def control(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            try:
                out = "ok " + json.dumps(command(line.decode().split()))
            except Exception as e:
                out = "error %s: %s" % (type(e).__name__, e)
            writer.write((out + "\n").encode())
            await writer.drain()
    finally:
        await writer.wait_closed()  # Stream.close() alone leaves the socket open


async def firmware():
    global A
    A = main.embed(sys.argv[2])
    srv = await asyncio.start_server(control, "127.0.0.1", int(sys.argv[3]))
    print("embed: control on port", sys.argv[3])
    try:
        reason = await A.task
    finally:
        srv.close()
        await srv.wait_closed()
    print("embed: agent ended:", reason)


asyncio.run(firmware())
