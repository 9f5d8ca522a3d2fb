"""Agent subprocesses as the demo, the bench and tests start them."""

import asyncio
import signal


async def stop_agent(proc, timeout=10):
    """Stop an agent subprocess: a "stop" line on its stdin when it was started with
    stdin=PIPE (handled in its event loop, see tools/run-agent), else SIGINT;
    -> True if it stopped by itself."""
    if proc.returncode is not None:
        return True
    if proc.stdin is not None:
        try:
            proc.stdin.write(b"stop\n")
            await proc.stdin.drain()
        except (ConnectionError, OSError):
            proc.send_signal(signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
        return True
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return False


