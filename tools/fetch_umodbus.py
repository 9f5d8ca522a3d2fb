"""Fetch the pinned micropython-modbus sdist and unpack its `umodbus/` package.

pip cannot install it (the sdist has no setup.py), so we take the file itself from
the index pip is configured with, check its sha256 and unpack only `umodbus/`.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request

NAME = "micropython-modbus"
VERSION = "2.3.7"
SHA256 = "b9351a66af0ff29dd585900e53827a989dedcb02ec63b1041358165089652271"


def index_url():
    """The primary index pip itself would use (env, then pip config, then pip's default)."""
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                             capture_output=True, text=True)
        url = out.stdout.strip() if out.returncode == 0 else ""
    if not url:
        from pip._internal.models.index import PyPI
        url = PyPI.simple_url
    return url.rstrip("/")


def sdist_url():
    req = urllib.request.Request(index_url() + "/" + NAME + "/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        files = json.load(r)["files"]
    want = "%s-%s.tar.gz" % (NAME, VERSION)
    for f in files:
        if f["filename"] == want:
            return urllib.parse.urljoin(index_url() + "/" + NAME + "/", f["url"])
    raise SystemExit("fetch_umodbus: %s not in the package index" % want)


def main(dest):
    stamp = os.path.join(dest, "umodbus", ".sha256")
    if os.path.exists(stamp) and open(stamp).read().strip() == SHA256:
        return 0
    with urllib.request.urlopen(sdist_url(), timeout=300) as r:
        data = r.read()
    got = hashlib.sha256(data).hexdigest()
    if got != SHA256:
        raise SystemExit("fetch_umodbus: sha256 mismatch: got %s, want %s" % (got, SHA256))
    target = os.path.join(dest, "umodbus")
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for m in tar.getmembers():
            parts = m.name.split("/")
            if len(parts) == 3 and parts[1] == "umodbus" and m.isfile() and parts[2].endswith(".py"):
                with open(os.path.join(target, parts[2]), "wb") as f:
                    f.write(tar.extractfile(m).read())
    with open(stamp, "w") as f:
        f.write(SHA256 + "\n")
    print("fetch_umodbus: umodbus %s unpacked into %s" % (VERSION, target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".deps"))
