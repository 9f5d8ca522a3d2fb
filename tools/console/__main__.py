"""`python tools/console ...` or `python -m console ...` (with tools/ on the path)."""
import os
import sys

_TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TOOLS not in sys.path:
    sys.path.insert(0, _TOOLS)
if sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # run as a directory: its modules are not top-level ones

from console.cli import main  # noqa: E402

main(prog_name="console")
