"""Build a board's MicroPython firmware with the agent frozen in, and say what the agent costs.

    make board-image BOARD=RPI_PICO_W MPY_DIR=/path/to/micropython [BASELINE=1]

MPY_DIR is a MicroPython checkout with the port's submodules (firmware/BOARDS.md says which
commit and how; set-up and CI cannot fetch it, so this is not part of `make test`).
The image is built with firmware/manifest.py (the board's own manifest + the agent). With
BASELINE=1 the board's stock image is built too (a second, full build in its own build
directory), and the agent's share is the difference: that is what a charger maker pays in
flash. Without it the share is read from the frozen modules' symbols in the ELF file.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST = os.path.join(ROOT, "firmware", "manifest.py")
# Top-level names of the agent's frozen modules (firmware/agent_manifest.py).
AGENT_MODULES = ("ocpp", "model", "diag", "net", "modbus", "umodbus", "agent", "clock", "config",
                 "lazy", "log", "store", "tlsctx", "x509")


def find_port(mpy_dir, board):
    hits = glob.glob(os.path.join(mpy_dir, "ports", "*", "boards", board))
    if len(hits) != 1:
        raise SystemExit("board %s: %s in %s/ports/*/boards" % (
            board, "not found" if not hits else "ambiguous", mpy_dir))
    return os.path.basename(os.path.dirname(os.path.dirname(hits[0])))


def make(mpy_dir, port, board, build_dir, manifest, extra):
    args = ["make", "-C", os.path.join(mpy_dir, "ports", port), "BOARD=" + board,
            "BUILD=" + build_dir, "-j%d" % (os.cpu_count() or 2)] + list(extra)
    if manifest:
        args.append("FROZEN_MANIFEST=" + manifest)
    print("+", " ".join(args), flush=True)
    subprocess.run(args, check=True)


def elf_size(elf):
    """(text, data, bss) of an ELF file: text + data is what goes to flash."""
    out = subprocess.run(["arm-none-eabi-size", elf] if _arm(elf) else ["size", elf],
                         check=True, capture_output=True, text=True).stdout.splitlines()[1].split()
    return int(out[0]), int(out[1]), int(out[2])


def _arm(elf):
    with open(elf, "rb") as f:
        head = f.read(20)
    return head[18:20] == b"\x28\x00"  # e_machine EM_ARM (little-endian)


def frozen_share(elf):
    """Bytes of frozen bytecode, constant tables and code objects that belong to the
    agent's modules, by symbol (makemanifest names them after the module path, e.g.
    fun_data_diag_runner_Runner_plan). A lower bound: the names the agent adds to the
    frozen qstr pool are shared with the board's modules and not counted."""
    nm = "arm-none-eabi-nm" if _arm(elf) else "nm"
    out = subprocess.run([nm, "-S", "--size-sort", elf], check=True, capture_output=True,
                         text=True).stdout
    prefixes = ("fun_data_", "proto_fun_", "const_obj_table_data_", "const_qstr_table_data_",
                "children_", "const_obj_", "raw_code_", "bytecode_data_")
    total = 0
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 4:
            continue
        sym = parts[3]
        for p in prefixes:
            if sym.startswith(p):
                rest = sym[len(p):]
                if any(rest == m or rest.startswith(m + "_") for m in AGENT_MODULES):
                    total += int(parts[1], 16)
                break
    return total


def built_tests():
    """The test ids `make firmware` wrote into build/gen/diag/builtin.py."""
    ns = {}
    with open(os.path.join(ROOT, "build", "gen", "diag", "builtin.py")) as f:
        exec(f.read(), ns)
    return ns["TESTS"]


def check_manifest(mpy_dir, port, board):
    """Resolve firmware/manifest.py for a board with MicroPython's own tools/manifestfile.py
    (no compiler needed: ESP32's toolchain cannot be downloaded here) and check that every
    agent module is frozen next to the board's own modules. -> (board modules, agent modules)"""
    out = subprocess.run(
        [sys.executable, os.path.join(mpy_dir, "tools", "manifestfile.py"), "--freeze",
         "--top", mpy_dir, "--port", os.path.join(mpy_dir, "ports", port),
         "--board", os.path.join(mpy_dir, "ports", port, "boards", board), MANIFEST],
        capture_output=True, text=True)
    if out.returncode:
        raise SystemExit("manifest for %s does not resolve: %s" % (board, out.stderr.strip()))
    frozen = set(re.findall(r"target_path='([^']+)'", out.stdout))
    lib = os.path.join(ROOT, "lib")
    tests = built_tests()
    want = {os.path.relpath(os.path.join(d, f), lib) for d, _, fs in os.walk(lib) for f in fs
            if f.endswith(".py")}
    # The build's test list decides which test modules go in (firmware/tests.json).
    want = {m for m in want if not m.startswith("diag/tests/") or m[11:].startswith("_")
            or m[11:-3] in tests} | {"diag/builtin.py"}
    missing = sorted(want - frozen)
    if missing:
        raise SystemExit("manifest for %s leaves out: %s" % (board, ", ".join(missing)))
    return sorted(frozen - want), sorted(want)


def firmware_files(build):
    return [p for ext in ("uf2", "bin", "elf", "dfu") for p in glob.glob(os.path.join(build, "firmware*." + ext))]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", required=True)
    ap.add_argument("--mpy-dir", required=True)
    ap.add_argument("--baseline", action="store_true", help="also build the stock image and compare")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--check-manifest", action="store_true",
                    help="only resolve the manifest for the board (any port, no build)")
    ap.add_argument("make_args", nargs="*", help="extra make arguments (e.g. CMAKE_ARGS=...)")
    a = ap.parse_args(argv)
    mpy = os.path.abspath(a.mpy_dir)
    port = find_port(mpy, a.board)
    if a.check_manifest:
        board_mods, agent_mods = check_manifest(mpy, port, a.board)
        print("%s (%s port): manifest resolves; %d agent modules frozen beside %d of the board's "
              "(%s)" % (a.board, port, len(agent_mods), len(board_mods), ", ".join(board_mods)))
        return 0
    if not os.path.exists(os.path.join(mpy, "mpy-cross", "build", "mpy-cross")):
        subprocess.run(["make", "-C", os.path.join(mpy, "mpy-cross")], check=True)
    build = "build-%s-agent" % a.board
    make(mpy, port, a.board, build, MANIFEST, a.make_args)
    bdir = os.path.join(mpy, "ports", port, build)
    elf = os.path.join(bdir, "firmware.elf")
    text, data, bss = elf_size(elf)
    fig = {"board": a.board, "port": port, "flash": text + data, "ram_static": data + bss,
           "files": {os.path.basename(p): os.path.getsize(p) for p in firmware_files(bdir)},
           "agent_frozen_symbols": frozen_share(elf)}
    if a.baseline:
        stock = "build-%s-stock" % a.board
        make(mpy, port, a.board, stock, None, a.make_args)
        st, sd, _ = elf_size(os.path.join(mpy, "ports", port, stock, "firmware.elf"))
        fig["stock_flash"] = st + sd
        fig["agent_flash"] = fig["flash"] - fig["stock_flash"]
    print("%s (%s port): image %d B of flash (text+data), static RAM %d B" % (
        a.board, port, fig["flash"], fig["ram_static"]))
    for name, size in sorted(fig["files"].items()):
        print("  %-20s %9d B" % (name, size))
    print("  agent's frozen modules (by symbol): %d B" % fig["agent_frozen_symbols"])
    if a.baseline:
        print("  stock image %d B: the agent costs %d B of flash" % (fig["stock_flash"], fig["agent_flash"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(fig, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
