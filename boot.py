# Runs first on a device: nothing to do before main.py yet (network bring-up is the
# board's own boot code; the agent waits for the link itself).
