# Device entry point; on the unix port: micropython main.py CONFIG.json
# A charger whose own firmware owns main.py and the asyncio loop calls embed()
# below instead (README, "Embedding the agent in a charger's firmware").
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
for _p in (_here + "/.deps", _here + "/lib"):
    if _p not in sys.path:
        sys.path.insert(0, _p)


def embed(cfg="config.json", on_reset=None):
    """Run the agent as one task of the charger firmware's own asyncio loop; call it
    from a coroutine of that loop. Returns the agent; its `charger` is the API
    (lib/charger.py) for connector states, sessions, tests and health:

        async def firmware_main():
            a = embed("config.json")
            a.charger.set_connector(1, 1, "Available")
            ...                                   # the firmware's own tasks
            await a.task                          # or never: it runs until stopped
    """
    import charger
    return charger.start(cfg, on_reset)


if __name__ == "__main__":
    import agent

    sys.exit(agent.main(sys.argv) or 0)
