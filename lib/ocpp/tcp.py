# TCP (optionally TLS) client connections that never leak their socket.
# asyncio.open_connection leaves the socket open when the connect is refused, times
# out or is cancelled, and its Stream.close() does nothing on MicroPython: each
# refused or dropped CSMS connection cost a descriptor until none were left.
import asyncio
import socket


async def open(host, port, ssl_ctx=None, server_hostname=None, timeout_ms=10000):
    """-> an asyncio Stream, connected (and TLS-wrapped when ssl_ctx is given).
    The socket is closed on any failure, including cancellation."""
    from errno import EINPROGRESS
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]  # blocks; see README
    s = socket.socket(ai[0], ai[1], ai[2])
    try:
        s.setblocking(False)
        try:
            s.connect(ai[-1])
        except OSError as e:
            if e.errno != EINPROGRESS:
                raise
        if ssl_ctx is not None:
            s = ssl_ctx.wrap_socket(s, server_hostname=server_hostname or host,
                                    do_handshake_on_connect=False)
            s.setblocking(False)
        st = asyncio.StreamWriter(s, {})
        await asyncio.wait_for_ms(_writable(s), timeout_ms)
        return st
    except BaseException:
        s.close()
        raise


async def _writable(s):
    # A refused connect also wakes this (POLLERR); the error shows at the first I/O.
    yield asyncio.core._io_queue.queue_write(s)


def close(stream):
    """Close a Stream's socket now (Stream.close() is a no-op on MicroPython)."""
    s = getattr(stream, "s", None)
    try:
        if s is not None:
            s.close()
        else:
            stream.close()
    except Exception:
        pass
