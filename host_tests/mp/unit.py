# A very small test runner for tests that run inside MicroPython itself:
# every test_* function of the calling module (plain or async) is run once.
import asyncio
import sys

# Scratch files: /tmp on the unix port; the current directory on a board (qemu-check
# mounts the host's directory there).
TMP = "/tmp" if sys.platform == "linux" else "."


def remove_dir(d):
    """Scratch directory d and the files in it gone (missing is fine)."""
    import os
    try:
        for n in os.listdir(d):
            os.remove(d + "/" + n)
        os.rmdir(d)
    except OSError:
        pass


def run(ns):
    passed = failed = 0
    for name in sorted(ns):
        fn = ns[name]
        if not name.startswith("test_") or not callable(fn):
            continue
        try:
            r = fn()
            if r is not None and hasattr(r, "send"):
                asyncio.run(r)
            passed += 1
        except Exception as e:
            failed += 1
            print("FAIL", name)
            sys.print_exception(e)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def raises(exc, fn, *args):
    try:
        r = fn(*args)
        if r is not None and hasattr(r, "send"):
            asyncio.run(r)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


class MemReader:
    """An asyncio-stream stand-in over a bytes buffer."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    async def readexactly(self, n):
        if self.pos + n > len(self.data):
            raise EOFError()
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    async def readinto(self, mv):
        n = min(len(mv), len(self.data) - self.pos)
        mv[0:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n

    async def readline(self):
        i = self.data.find(b"\n", self.pos)
        j = len(self.data) if i < 0 else i + 1
        b = self.data[self.pos:j]
        self.pos = j
        return b


class MemWriter:
    # Chunks joined on demand: growing one bytearray by each write needs ever larger
    # contiguous blocks of the test process's heap.
    def __init__(self):
        self.chunks = []
        self.closed = False

    @property
    def out(self):
        return b"".join(self.chunks)

    def write(self, b):
        self.chunks.append(bytes(b))

    async def drain(self):
        pass

    def close(self):
        self.closed = True
