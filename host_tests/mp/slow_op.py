# An operation module whose follow-up work lasts until released (flood tests).
import asyncio

from ocpp.check import INT, REQ

REQ = (("n", INT | REQ, None),)
FOLLOWS = 1
release = asyncio.Event()


async def _later():
    await release.wait()


def handle(agent, p):
    return {"status": "Accepted"}, _later()
