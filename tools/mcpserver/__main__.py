"""`python tools/mcpserver ...` (with tools/ on the path, as tools/console does)."""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
# Run as a directory: its modules are not top-level ones (http_endpoint must not be
# found as a top-level module, nor shadow anything of the standard library).
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
_TOOLS = os.path.dirname(_HERE)
if _TOOLS not in sys.path:
    sys.path.insert(0, _TOOLS)

from mcpserver.cli import main  # noqa: E402

sys.exit(main())
