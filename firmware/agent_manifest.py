# The agent's own code, for include() from a port's manifest (manifest.py for boards,
# unix_manifest.py for the unix port). Paths are relative to this file.
package("ocpp", base_path="../lib")
package("model", base_path="../lib")
package("diag", base_path="../lib")
package("net", base_path="../lib")
package("modbus", base_path="../lib")
# umodbus (micropython-modbus, unpacked in .deps/ by `make setup`): the modules the
# meter test uses; its blocking transports and typing shim are left out (tools/build.py DEPS).
package("umodbus", files=("__init__.py", "version.py", "const.py", "functions.py"),
        base_path="../.deps")
module("agent.py", base_path="../lib")
module("clock.py", base_path="../lib")
module("config.py", base_path="../lib")
module("lazy.py", base_path="../lib")
module("log.py", base_path="../lib")
module("netup.py", base_path="../lib")
module("store.py", base_path="../lib")
module("tlsctx.py", base_path="../lib")
module("x509.py", base_path="../lib")
