# Lazy imports: a module is imported when first needed and dropped when no longer
# in use, so that RAM holds only the code at work (on a device without frozen code
# its bytecode lives in the heap too). Modules that are dropped keep no state in
# their globals: state lives on the agent.
import sys


def load(name):
    m = sys.modules.get(name)
    if m is None:
        __import__(name)
        m = sys.modules[name]
    return m


def drop(name):
    """Forget module `name`. The import also made it an attribute of its package,
    which would keep it alive; whatever still uses it (a running task) keeps it
    until done."""
    if sys.modules.pop(name, None) is None:
        return
    i = name.rfind(".")
    pkg = sys.modules.get(name[:i]) if i > 0 else None
    if pkg is not None:
        try:
            delattr(pkg, name[i + 1:])
        except (AttributeError, KeyError):  # MicroPython raises KeyError for a module
            pass


def since(before):
    """The modules imported since `before` (a set of sys.modules' names), asyncio's
    parts aside: they belong to the runtime."""
    return [n for n in sys.modules if n not in before and not n.startswith("asyncio")]
