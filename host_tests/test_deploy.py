"""`make deploy` (tools/deploy.py), package.json for mip and the example configuration.
No board is attached here, and the unix port cannot be an mpremote target: the deploy
runs its same steps against a directory standing in for the board's filesystem
(`--target DIR`: files copied, the ROMFS partition a file, the on-board verification
run by the unix port in that directory), and the agent is then started from it."""
import json
import os
import re
import shutil
import subprocess

import pytest

import build
import deploy
from conftest import MICROPYTHON, ROOT, AgentProc, base_config, wait_booted
from diag_helpers import meas, results, start


@pytest.fixture
def prod(prod_dir):
    return prod_dir


def _config(tmp_path, csms_url, **over):
    path = str(tmp_path / "station.json")
    cfg = base_config(csms_url, str(tmp_path), vendor="Ladesäule GmbH", **over)
    cfg["dataDir"] = "state"  # relative: on the board, next to main.py
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False)
    return path


@pytest.mark.req("DG18.FR.06")
def test_deploy_files_route_then_the_agent_runs_from_the_target(csms, prod, tmp_path):
    target = tmp_path / "board"
    # What an earlier deploy and the charger maker left: a module of ours that no
    # longer exists (removed), and their own package (kept).
    (target / "lib" / "ocpp").mkdir(parents=True)
    (target / "lib" / "ocpp" / "old_module.mpy").write_bytes(b"M\x06stale")
    (target / "lib" / "laderegler").mkdir()
    (target / "lib" / "laderegler" / "pwm.py").write_text("# Ladepunkt-Steuerung\n", encoding="utf-8")
    logs = []
    lines = deploy.deploy(deploy.DirBoard(str(target)), prod, "files", _config(tmp_path, csms.url), log=logs.append)
    files = [l for l in open(os.path.join(prod, "MANIFEST")) if not l.startswith("#")]
    assert lines[-1] == "VERIFY OK %d files" % len(files), lines
    assert not (target / "lib" / "ocpp" / "old_module.mpy").exists()
    assert (target / "lib" / "laderegler" / "pwm.py").exists()
    assert json.loads((target / "config.json").read_text(encoding="utf-8"))["vendor"] == "Ladesäule GmbH"
    # The deployed tree is an agent: it boots from there and its own integrity test agrees.
    a = AgentProc(str(target), json.load(open(target / "config.json", encoding="utf-8")), str(target))
    a.start()
    try:
        wait_booted(csms, a)
        start(csms, a.station, 1, ("integrity",))
        (r,) = results(csms, a.station, 1)
        assert r["verdict"] == "Passed" and meas(r)["filesChecked"]["value"] == len(files), r
    finally:
        assert a.stop() == 0


@pytest.mark.req("DG18.FR.06")
def test_deploy_names_a_file_the_board_got_wrong(prod, tmp_path, monkeypatch):
    real = deploy.DirBoard.put_tree

    def flaky(self, local):  # a copy that went wrong on the way: one byte differs
        real(self, local)
        p = os.path.join(self.path, "lib", "diag", "runner.mpy")
        data = bytearray(open(p, "rb").read())
        data[-1] ^= 0xFF
        open(p, "wb").write(bytes(data))

    monkeypatch.setattr(deploy.DirBoard, "put_tree", flaky)
    logs = []
    with pytest.raises(deploy.DeployError, match="verification on the board failed"):
        deploy.deploy(deploy.DirBoard(str(tmp_path / "board")), prod, "files", log=logs.append)
    assert "board: changed lib/diag/runner.mpy" in logs and "board: VERIFY FAILED 1 mismatches" in logs


@pytest.mark.req("DG18.FR.06")
def test_deploy_romfs_route_verifies_the_partition(csms, prod, tmp_path, monkeypatch):
    target = tmp_path / "board"
    lines = deploy.deploy(deploy.DirBoard(str(target)), prod, "romfs", _config(tmp_path, csms.url),
                          log=lambda *_: None)
    n = len([l for l in open(os.path.join(prod, "MANIFEST")) if re.match(r"[0-9a-f]{64} \d+ lib/", l)])
    assert lines[-1] == "VERIFY OK %d files" % n, lines
    assert (target / ".romfs0").read_bytes() == open(os.path.join(prod, "agent.romfs"), "rb").read()
    assert not (target / "lib").exists() and (target / "main.py").exists()
    # A partition that did not take the whole image (a flash write that failed half-way).
    real = deploy.DirBoard.romfs

    def torn(self, image):
        real(self, image)
        with open(self.rom, "r+b") as f:
            f.seek(os.path.getsize(self.rom) // 2)
            f.write(b"\xff" * 64)

    monkeypatch.setattr(deploy.DirBoard, "romfs", torn)
    logs = []
    with pytest.raises(deploy.DeployError):
        deploy.deploy(deploy.DirBoard(str(tmp_path / "board2")), prod, "romfs", log=logs.append)
    assert "board: changed ROMFS partition: not the image of this build" in logs, logs


def test_deploy_refuses_a_bad_config_or_a_changed_build(prod, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"csmsUrl": "ws://x/", "stationId": "CS1", "vendor": "V", "model": "M",
                               "wifi": {"ssid": "Ladepark Süd", "pasword": "x"}}), encoding="utf-8")
    with pytest.raises(deploy.DeployError, match="config error: 'wifi.pasword' is not a Wi-Fi setting"):
        deploy.deploy(deploy.DirBoard(str(tmp_path / "board")), prod, "files", str(bad), log=lambda *_: None)
    assert not (tmp_path / "board" / "lib").exists()  # nothing copied
    tree = str(tmp_path / "tree")
    shutil.copytree(prod, tree)
    with open(os.path.join(tree, "lib", "agent.mpy"), "ab") as f:
        f.write(b"\0")
    with pytest.raises(deploy.DeployError, match="does not match its MANIFEST:\nchanged lib/agent.mpy"):
        deploy.deploy(deploy.DirBoard(str(tmp_path / "board")), tree, "files", log=lambda *_: None)
    with pytest.raises(deploy.DeployError, match="--mip needs a board"):
        deploy.deploy(deploy.DirBoard(str(tmp_path / "board")), prod, "files", mip=True, log=lambda *_: None)


def test_deploy_cli_without_a_port_or_target_says_how():
    r = subprocess.run(["make", "-s", "deploy"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "make deploy PORT=/dev/ttyACM0" in r.stdout


# --- package.json (mip) ------------------------------------------------------------

def test_package_json_lists_every_module_the_agent_needs():
    with open(os.path.join(ROOT, "package.json")) as f:
        committed = json.load(f)
    assert committed == build.package_json(), "package.json is stale: run tools/build.py --package-json"
    listed = {dst for dst, _ in committed["urls"]}
    prod = json.load(open(os.path.join(ROOT, "firmware", "tests.json")))["production"]
    for d, _, names in os.walk(os.path.join(ROOT, "lib")):
        for n in names:
            rel = os.path.relpath(os.path.join(d, n), os.path.join(ROOT, "lib")).replace(os.sep, "/")
            if not n.endswith(".py"):
                continue
            if rel.startswith("diag/tests/") and n[:-3] not in prod and not n.startswith("_"):
                assert rel not in listed, rel  # development tests (noop) stay out
            else:
                assert rel in listed, rel
    for dst, src in committed["urls"]:  # relative URLs: mip resolves them next to package.json
        assert src == "lib/" + dst and os.path.exists(os.path.join(ROOT, src)), src
    assert committed["deps"] == [["github:brainelectronics/micropython-modbus", "2.3.7"]]
    with open(os.path.join(ROOT, "tools", "fetch_umodbus.py")) as f:
        assert 'VERSION = "2.3.7"' in f.read()  # the same umodbus as .deps/ and the build


# --- firmware/config.example.json -----------------------------------------------------

def _readme_keys():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    table = text.split("The configuration is a JSON object:", 1)[1].split("\n\n", 2)[1]
    keys = set()
    for row in table.splitlines()[2:]:
        keys |= set(re.findall(r"`(\w+)`", row.split("|")[1]))
    return keys


# Keys that exclude one another or a default: the example shows one of each pair.
ALTERNATIVES = {"ethernet": "instead of wifi", "ifconfig": "static address instead of DHCP"}


def test_config_example_has_every_key_and_the_agent_accepts_it(tmp_path):
    path = os.path.join(ROOT, "firmware", "config.example.json")
    with open(path, encoding="utf-8") as f:
        example = json.load(f)
    keys = _readme_keys()
    assert len(keys) > 30, keys
    assert set(example) | set(ALTERNATIVES) == keys, (set(example) ^ keys)
    # The agent's own checker, in MicroPython; then the variant with Ethernet.
    eth = dict(example, ethernet={"phy": "LAN8720", "phyAddr": 0, "mdc": 23, "mdio": 18, "power": 12},
               ifconfig=["192.0.2.50", "255.255.255.0", "192.0.2.1", "192.0.2.1"])
    del eth["wifi"]
    (tmp_path / "eth.json").write_text(json.dumps(eth))
    script = ("import config\nfor p in (%r, %r):\n    c = config.load(p)\n    print('OK', len(c))\n"
              % (path, str(tmp_path / "eth.json")))
    r = subprocess.run([MICROPYTHON, "-c", script], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MICROPYPATH=".frozen:" + os.path.join(ROOT, "lib")))
    assert r.stdout.count("OK ") == 2, r.stdout + r.stderr
