# Stand-ins for the WebSocket and the agent, for the RPC unit tests.
import json

from ocpp.rpc import Rpc


class FakeWs:
    protocol = "ocpp2.1"
    closed = False

    def __init__(self):
        self.sent = []

    async def send(self, text):
        self.sent.append(json.loads(text))

    async def send_stream(self, pieces):
        self.pieces = [bytes(memoryview(p)) for p in pieces]  # str or memoryview
        self.sent.append(json.loads(b"".join(self.pieces)))


class FakeAgent:
    def __init__(self):
        self.spawned = []

    def on_sent(self, action):
        pass

    def spawn(self, coro):
        self.spawned.append(coro)


def make():
    r = Rpc(FakeAgent(), 200)
    ws = FakeWs()
    r.attach(ws)
    r.on("Echo", "echo_op")
    return r, ws
