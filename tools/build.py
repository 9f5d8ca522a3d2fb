"""Compile lib/ with mpy-cross into build/: what a device gets (and what the host
tests run, so that they measure the agent as deployed, not the compiler's RAM).
Prints the total size of the compiled modules."""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
# Third-party modules the agent imports (from .deps/, which main.py puts on sys.path):
# umodbus for the meter test's Modbus frames. Only the modules it uses: umodbus's own
# serial/tcp transports (blocking, and needing machine.UART) stay out, and so does its
# typing shim (lib/modbus/frame.py stands in for it).
DEPS = ("umodbus/__init__.py", "umodbus/version.py", "umodbus/const.py", "umodbus/functions.py")


def _compile(src, rel, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    # -s: keep the source name short in tracebacks; optimisation level 2
    # drops asserts and line numbers are kept.
    subprocess.run([MPY_CROSS, "-s", rel, "-o", dst, src], check=True)
    return os.path.getsize(dst)


def build(out=os.path.join(ROOT, "build")):
    lib_out = os.path.join(out, "lib")
    shutil.rmtree(out, ignore_errors=True)
    total = 0
    for dirpath, _, files in os.walk(os.path.join(ROOT, "lib")):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            src = os.path.join(dirpath, name)
            rel = os.path.relpath(src, os.path.join(ROOT, "lib"))
            total += _compile(src, rel, os.path.join(lib_out, rel[:-3] + ".mpy"))
    for rel in DEPS:
        _compile(os.path.join(ROOT, ".deps", rel), rel, os.path.join(out, ".deps", rel[:-3] + ".mpy"))
    for name in ("main.py", "boot.py"):
        shutil.copy(os.path.join(ROOT, name), out)
    return total


def romfs(out=os.path.join(ROOT, "build")):
    """A ROMFS image of lib/ (build/agent.romfs) for boards with a ROMFS partition
    (`mpremote romfs deploy`), and for the benchmark."""
    src = os.path.join(out, "romfs-src")
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "lib"), os.path.join(src, "lib"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    for rel in DEPS:  # next to the agent's packages: /rom/lib is the image's sys.path entry
        os.makedirs(os.path.dirname(os.path.join(src, "lib", rel)), exist_ok=True)
        shutil.copy(os.path.join(ROOT, ".deps", rel), os.path.join(src, "lib", rel))
    img = os.path.join(out, "agent.romfs")
    mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
    subprocess.run([mpremote, "romfs", "-o", img, "build", src], check=True,
                   stdout=subprocess.DEVNULL)
    shutil.rmtree(src)
    return img


if __name__ == "__main__":
    size = build(*sys.argv[1:])
    print("build: lib/ compiled to %d bytes of .mpy" % size)
