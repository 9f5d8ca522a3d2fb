# What an operation module imports at its own import (as the diagnostics handlers
# import diag.ops.shapes): it must go when the handler goes.
REQ = ()
