# An operation module for the RPC unit tests.
from ocpp.check import INT, REQ

REQ = (("n", INT | REQ, (0, 9)),)


async def _later():
    pass


def handle(agent, p):
    if p["n"] == 5:
        raise RuntimeError("handler bug")
    return p, _later()
