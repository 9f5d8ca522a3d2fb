# Runs first on a board: brings up Wi-Fi or Ethernet from config.json and sets the
# clock (lib/netup.py), each step with a timeout, so that main.py always starts. On
# the unix port the host's network is there already: nothing to do.
import sys

if sys.platform not in ("linux", "darwin", "win32"):
    try:
        import netup
        netup.main("config.json")
        del sys.modules["netup"]
    except Exception as e:  # never keep main.py from starting
        print("boot:", e)
