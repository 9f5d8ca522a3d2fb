"""`make deploy PORT=/dev/ttyACM0`: put the build (tools/build.py) and a config.json
on a board with mpremote, then verify the integrity manifest ON the board.

    .venv/bin/python tools/deploy.py --port /dev/ttyACM0 [--route files|romfs]
                                     [--config config.json] [--mip]
    .venv/bin/python tools/deploy.py --target DIR ...   (a directory stands in for
                                     the board: same steps, run with the unix port)

Routes: `files` copies lib/ (.mpy), main.py, boot.py and MANIFEST to the board's
filesystem; `romfs` writes build/agent.romfs to the ROMFS partition (`mpremote romfs
deploy`) and copies only main.py and boot.py. Either way the agent's own packages
left in /lib by an earlier deploy are removed first (an old /lib/agent.mpy would
shadow the new code), nothing else. umodbus comes with the build (compiled, in
lib/umodbus); --mip installs it with `mpremote mip install` from its GitHub release
instead, and the verification then leaves it out. Exit code 0 only when the
verification on the board printed VERIFY OK.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
BIN = os.path.dirname(sys.executable)
UMODBUS = ("github:brainelectronics/micropython-modbus", "2.3.7")  # the version .deps pins


class DeployError(Exception):
    pass


class MpremoteBoard:
    """A board reached with mpremote (`connect` takes a port or a shortcut: a0, u0...)."""

    def __init__(self, port):
        self.port = port

    def _mp(self, *args):
        cmd = [os.path.join(BIN, "mpremote"), "connect", self.port] + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if r.returncode:
            raise DeployError("%s failed: %s" % (" ".join(args[:3]), (r.stderr or r.stdout).strip()[-500:]))
        return r.stdout

    def run(self, script):
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(script)
        try:
            return self._mp("run", f.name)
        finally:
            os.remove(f.name)

    def put(self, files):
        """files: [(local, remote path relative to the board's root)]"""
        args = []
        for local, remote in files:
            args += ["+", "fs", "cp", local, ":" + remote] if args else ["fs", "cp", local, ":" + remote]
        self._mp(*args)

    def put_tree(self, local):
        """Directory `local` (e.g. build/lib) to the same name at the board's root."""
        self._mp("fs", "cp", "-r", local, ":")

    def romfs(self, image):
        self._mp("romfs", "deploy", image)

    def mip(self, pkg, version):
        self._mp("mip", "install", "%s@%s" % (pkg, version))


class DirBoard:
    """A directory standing in for a board's filesystem: the same steps, scripts run
    by the unix port with the directory as its current directory, and the ROMFS
    partition a file (.romfs0) in it."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        os.makedirs(self.path, exist_ok=True)
        self.rom = os.path.join(self.path, ".romfs0")

    def run(self, script):
        r = subprocess.run([os.path.join(BIN, "micropython"), "-c", script], capture_output=True, text=True,
                           timeout=120, cwd=self.path)
        if r.returncode:
            raise DeployError("script failed on the target: %s" % (r.stderr or r.stdout).strip()[-500:])
        return r.stdout

    def put(self, files):
        for local, remote in files:
            dst = os.path.join(self.path, remote)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(local, dst)

    def put_tree(self, local):
        shutil.copytree(local, os.path.join(self.path, os.path.basename(local)), dirs_exist_ok=True)

    def romfs(self, image):
        shutil.copyfile(image, self.rom)

    def mip(self, pkg, version):
        raise DeployError("--mip needs a board with a network (or mpremote's host network): "
                          "not possible with --target")


# Removes what an earlier deploy of the agent left: its packages and modules in
# lib/ (names from this build), and MANIFEST. Nothing else on the board is touched.
_CLEAN = """import os
def rm(p):
    try:
        st = os.stat(p)
    except OSError:
        return 0
    if st[0] & 0x4000:
        n = 0
        for e in list(os.ilistdir(p)):
            n += rm(p + "/" + e[0])
        os.rmdir(p)
        return n
    os.remove(p)
    return 1
n = 0
for p in %r:
    n += rm(p)
print("CLEAN %%d" %% n)
"""


def _lib_names(build):
    return sorted(os.listdir(os.path.join(build, "lib")))


def verify_script(image, skip, rom=None):
    """The board-side check (tools/verify_manifest.py) with its settings: the files
    in the current directory (a board's root), or with image=(sha, size) the ROMFS
    partition (rom: a file standing in for it)."""
    with open(os.path.join(ROOT, "tools", "verify_manifest.py")) as f:
        body = f.read()
    return "ROOT = ''\nSKIP = %r\nIMAGE = %r\nROMDEV = %r\n" % (tuple(skip), image, rom) + body


def deploy(board, build, route="files", config=None, mip=False, log=print):
    """-> the verification's output lines. Raises DeployError."""
    if route not in ("files", "romfs"):
        raise DeployError("route must be files or romfs")
    manifest = os.path.join(build, "MANIFEST")
    if not os.path.exists(manifest):
        raise DeployError("%s has no MANIFEST: run `make firmware` first" % build)
    image = None
    with open(manifest) as f:
        for line in f:
            if line.startswith("# image "):
                _, _, name, sha, size = line.split()
                image = (sha, int(size))
    # The build itself first: a tree edited or half-written since `make firmware`
    # is not worth copying.
    out = DirBoard(build).run(verify_script(None, ()))
    if "VERIFY OK" not in out:
        raise DeployError("the build in %s does not match its MANIFEST:\n%s" % (build, out))
    if route == "romfs":
        import hashlib
        if image is None:
            raise DeployError("the MANIFEST names no ROMFS image")
        with open(os.path.join(build, "agent.romfs"), "rb") as f:
            data = f.read()
        if (hashlib.sha256(data).hexdigest(), len(data)) != image:
            raise DeployError("agent.romfs in %s is not the image its MANIFEST names" % build)
    if config is not None:
        # The agent's own checker, run by MicroPython: a config it refuses is not deployed.
        chk = subprocess.run([os.path.join(BIN, "micropython"), "-c",
                              "import config\ntry:\n    config.load(%r)\n    print('CONFIG OK')\n"
                              "except config.ConfigError as e:\n    print('config error:', e)\n" % config],
                             capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, MICROPYPATH=".frozen:" + os.path.join(build, "lib")))
        if "CONFIG OK" not in chk.stdout:
            raise DeployError((chk.stdout + chk.stderr).strip())
    names = _lib_names(build)
    log("deploy: removing the agent's earlier files (%s)" % ", ".join("lib/" + n for n in names))
    board.run(_CLEAN % (["lib/" + n for n in names] + ["MANIFEST"]))
    top = [(os.path.join(build, n), n) for n in ("main.py", "boot.py")]
    if config is not None:
        top.append((config, "config.json"))
    skip = []
    if route == "files":
        log("deploy: copying lib/ (%d entries), main.py, boot.py, MANIFEST" % len(names))
        if mip:
            stage = tempfile.mkdtemp(prefix="deploy-lib-")
            try:
                shutil.copytree(os.path.join(build, "lib"), os.path.join(stage, "lib"),
                                ignore=lambda d, ns: ["umodbus"] if d == os.path.join(build, "lib") else [])
                board.put_tree(os.path.join(stage, "lib"))
            finally:
                shutil.rmtree(stage)
        else:
            board.put_tree(os.path.join(build, "lib"))
        board.put(top + [(manifest, "MANIFEST")])
    elif route == "romfs":
        log("deploy: writing agent.romfs (%d B) to the ROMFS partition" % image[1])
        board.romfs(os.path.join(build, "agent.romfs"))
        board.put(top)
    if mip:
        log("deploy: mip install %s@%s" % UMODBUS)
        board.mip(*UMODBUS)
        skip.append("lib/umodbus/")
    rom = getattr(board, "rom", None) if route == "romfs" else None
    out = board.run(verify_script(image if route == "romfs" else None, skip, rom))
    lines = [l for l in out.splitlines() if l.strip()]
    for l in lines:
        log("board: " + l)
    if not any(l.startswith("VERIFY OK") for l in lines):
        raise DeployError("verification on the board failed")
    return lines


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="mpremote connect argument: /dev/ttyACM0, a0, u0, ...")
    where.add_argument("--target", help="a directory standing in for the board (no mpremote)")
    ap.add_argument("--route", choices=("files", "romfs"), default="files")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--config", help="config.json to put on the board (checked first)")
    ap.add_argument("--mip", action="store_true", help="install umodbus with mpremote mip")
    a = ap.parse_args(argv)
    if a.config is None and os.path.exists(os.path.join(ROOT, "config.json")):
        a.config = os.path.join(ROOT, "config.json")
    board = MpremoteBoard(a.port) if a.port else DirBoard(a.target)
    try:
        deploy(board, a.build, a.route, a.config, a.mip)
    except DeployError as e:
        print("deploy: " + str(e), file=sys.stderr)
        return 1
    print("deploy: done; the board verified every file against the manifest")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
