"""The flash test against real filesystems in trouble: full and read-only (small
tmpfs mounts the test makes itself; skipped where mounting is not allowed)."""
import os
import subprocess

import pytest

from diag_helpers import meas, results, start


@pytest.fixture
def mounts(tmp_path):
    full, ro = tmp_path / "full", tmp_path / "ro"
    made = []
    try:
        for d, opts in ((full, "size=64k"), (ro, "size=64k")):
            d.mkdir()
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)], capture_output=True)
            if r.returncode != 0:
                pytest.skip("cannot mount tmpfs here: %s" % r.stderr.decode().strip())
            made.append(d)
        with open(full / "filler", "wb") as f:  # leave about 4 KB
            try:
                f.write(b"\0" * (60 * 1024))
            except OSError:
                pass
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        yield str(full), str(ro)
    finally:
        for d in made:
            subprocess.run(["umount", str(d)])


@pytest.mark.parametrize("case,params,code,errno", [
    ("full", {"sizeBytes": 32768, "minFreeBytes": 0}, "FlashError", ("28", "ENOSPC")),
    ("read-only", {"minFreeBytes": 0}, "FlashError", ("30", "EROFS")),
    ("low space", {"minFreeBytes": 1 << 20}, "LowSpace", None),
])
def test_flash_on_a_filesystem_in_trouble(csms, agent, mounts, case, params, code, errno):
    full, ro = mounts
    path = ro if case == "read-only" else full
    start(csms, agent.station, 1, ("flash", dict(params, path=path)))
    (r,) = results(csms, agent.station, 1)
    assert r["verdict"] == "Failed" and r["statusInfo"]["reasonCode"] == code, r
    if errno:
        assert any(e in r["statusInfo"]["additionalInfo"] for e in errno), r["statusInfo"]
    else:
        assert not meas(r)["freeSpace"]["withinLimit"]
    # Only the scratch file was ever touched, and it is gone.
    assert sorted(os.listdir(path)) == (["filler"] if path == full else [])
