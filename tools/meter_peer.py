"""A simulated Modbus energy meter (pymodbus 3.16) for the meter test's host tests and
the benchmark: RTU on a serial device (one end of a socat pty pair) or Modbus TCP on
a loopback port. It stands in for an Eastron SDM-style meter: float32 values in input
and holding registers from address 0 (voltage first).

    python tools/meter_peer.py --serial PTY [--unit 1] [--value 230.1] [--delay-ms 0]
                               [--corrupt 1] [--baud 9600] [--line]
    python tools/meter_peer.py --tcp PORT ...

Prints "READY" on stdout once serving. Requests for another unit id get no answer
(a real RS485 bus stays silent; pymodbus itself would answer with exception 4).
Reading past the simulated registers gives exception 2 (illegal data address).
"""
import argparse
import asyncio
import logging
import sys
import time

from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

REGISTERS = 8  # registers 0..7: four float32 values; 8 and up are an illegal address


def device(args):
    async def action(fc, start, address, count, regs, set_values):
        if args.delay_ms:
            # The request handler runs in this loop: the sleep delays only this answer.
            await asyncio.sleep(args.delay_ms / 1000)
        return None

    values = [args.value, 5.0, 1150.0, 50.0]  # V, A, W, Hz
    return SimDevice(id=args.unit, simdata=[
        SimData(address=0, values=values, datatype=DataType.FLOAT32)], action=action)


def tracer(args, tcp):
    left = [args.corrupt]
    heard = [0.0, 0]  # when the last request arrived, its length

    def trace(sending, data):
        if not sending:
            heard[:] = [time.monotonic(), len(data)]
            return data
        if not data:
            return data
        if args.line and not tcp:
            # A pty moves bytes at once. On a line the request takes 10 bits per byte,
            # then 3.5 characters of silence, then the answer takes its own bits: do not
            # let the answer end before that. (Blocking is fine: one client only.)
            end = heard[0] + ((heard[1] + len(data)) * 10 + 38.5) / args.baud
            time.sleep(max(0.0, end - time.monotonic()))
        unit = data[6] if tcp else data[0]
        if unit != args.unit:
            return b""  # silent, as a bus is: the request was for somebody else
        if left[0] > 0 and not tcp:
            left[0] -= 1
            return data[:-1] + bytes([data[-1] ^ 0xFF])  # last CRC byte flipped
        return data

    return trace


async def serve(args):
    dev = device(args)
    if args.tcp:
        server = ModbusTcpServer(dev, address=("127.0.0.1", args.tcp), ignore_missing_devices=True,
                                 trace_packet=tracer(args, True))
    else:
        server = ModbusSerialServer(dev, framer=FramerType.RTU, port=args.serial, baudrate=args.baud,
                                    ignore_missing_devices=True, trace_packet=tracer(args, False))
    await server.listen()
    print("READY", flush=True)
    await asyncio.Event().wait()


class RtuPeer:
    """For the benchmark: a socat pty pair in `workdir` and this script serving the
    meter end in a subprocess. start() -> the agent's end (its meter.device)."""

    def __init__(self, workdir, *args):
        self.workdir, self.args, self.procs = workdir, args, []

    def start(self):
        import os
        import subprocess
        a, b = os.path.join(self.workdir, "meterA"), os.path.join(self.workdir, "meterB")
        self.procs.append(subprocess.Popen(
            ["socat", "pty,raw,echo=0,link=" + a, "pty,raw,echo=0,link=" + b],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 5
        while not (os.path.exists(a) and os.path.exists(b)):
            if time.monotonic() > deadline:
                raise RuntimeError("socat did not make the pty pair")
            time.sleep(0.02)
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serial", b] + list(self.args),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(p)
        if p.stdout.readline().strip() != "READY":
            self.stop()
            raise RuntimeError("meter peer did not start")
        return a

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
            p.wait()
        self.procs = []


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--serial", metavar="DEVICE", help="serve RTU on this serial device / pty")
    where.add_argument("--tcp", type=int, metavar="PORT", help="serve Modbus TCP on 127.0.0.1:PORT")
    ap.add_argument("--unit", type=int, default=1, help="unit id answered (default 1)")
    ap.add_argument("--value", type=float, default=230.1, help="value of registers 0-1 (default 230.1)")
    ap.add_argument("--delay-ms", type=int, default=0, help="delay before each answer")
    ap.add_argument("--corrupt", type=int, default=0, help="answers sent with a bad CRC first (RTU)")
    ap.add_argument("--baud", type=int, default=9600)
    ap.add_argument("--line", action="store_true",
                    help="RTU: take as long to answer as a real line at --baud would")
    args = ap.parse_args(argv)
    # pymodbus logs every request for an unknown unit as an error with a traceback.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
