"""Compile lib/ with mpy-cross into build/: what a device gets (and what the host
tests run, so that they measure the agent as deployed, not the compiler's RAM).
Prints the total size of the compiled modules."""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")


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
            dst = os.path.join(lib_out, rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            # -s: keep the source name short in tracebacks; optimisation level 2
            # drops asserts and line numbers are kept.
            subprocess.run([MPY_CROSS, "-s", rel, "-o", dst, src], check=True)
            total += os.path.getsize(dst)
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
    img = os.path.join(out, "agent.romfs")
    mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
    subprocess.run([mpremote, "romfs", "-o", img, "build", src], check=True,
                   stdout=subprocess.DEVNULL)
    shutil.rmtree(src)
    return img


if __name__ == "__main__":
    size = build(*sys.argv[1:])
    print("build: lib/ compiled to %d bytes of .mpy" % size)
