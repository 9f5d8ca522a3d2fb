# The station's connection loop, run inside MicroPython with stand-ins.
import asyncio

from unit import run

from ocpp.station import Station


class _Agent:
    stopping = False


async def test_connection_loop_outlives_a_memory_error():
    # A MemoryError outside the connect attempt itself (here: in the back-off, which
    # reads the device model) once ended the loop, and the station never came back.
    st = Station(_Agent())
    seen = []

    async def connect():
        seen.append("connect")
        if len(seen) >= 3:
            st.agent.stopping = True
        raise OSError(111)  # refused: the back-off follows

    def backoff_s(attempt):
        if len(seen) == 1:
            raise MemoryError("memory allocation failed, allocating 1280 bytes")
        return 0.01

    st._connect = connect
    st.backoff_s = backoff_s
    await asyncio.wait_for(st.run(), 5)
    assert seen == ["connect"] * 3


run(globals())
