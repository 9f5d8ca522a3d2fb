# Modbus PDUs and RTU frames. The PDUs come from umodbus (micropython-modbus 2.3.7):
# its functions module builds read requests and its const module holds the function
# codes, lengths and the CRC-16 table. Its CRC helper itself is a method of its
# blocking Serial class, whose module imports machine.UART (absent on the unix port)
# and the 870-line umodbus.modbus; the three-line table loop below uses its table.
import sys

if "umodbus.typing" not in sys.modules:
    # umodbus.functions imports List/Optional/Union from umodbus.typing for its
    # annotations only, which MicroPython never evaluates; the real module builds dozens
    # of placeholder classes (9 KB of heap on the unix port). The names are enough.
    class _Typing:
        List = Optional = Union = Tuple = None

    sys.modules["umodbus.typing"] = _Typing

from umodbus import const as C  # noqa: E402
from umodbus import functions  # noqa: E402

HOLDING = C.READ_HOLDING_REGISTERS
INPUT = C.READ_INPUT_REGISTER

# Exception codes (Modbus Application Protocol 1.1b3, section 7) -> what they mean.
_EXC = ("", "illegal function", "illegal data address", "illegal data value",
        "server device failure", "acknowledge", "server device busy", "",
        "memory parity error", "", "gateway path unavailable", "gateway target failed to respond")


class BadFrame(Exception):
    """An answer that cannot be used: bad CRC, wrong unit/function/length."""


def read_request(fc, addr, count):
    if fc == HOLDING:
        return functions.read_holding_registers(addr, count)
    return functions.read_input_registers(addr, count)


def response_len(count):
    """PDU length of a read answer: function, byte count, 2 bytes per register."""
    return C.RESPONSE_HDR_LENGTH + 2 * count


def exc_name(code):
    return _EXC[code] if 0 < code < len(_EXC) and _EXC[code] else "unknown"


def crc16(data):
    crc = 0xFFFF
    t = C.CRC16_TABLE
    for b in data:
        crc = (crc >> 8) ^ t[(crc ^ b) & 0xFF]
    return crc


def adu(unit, pdu):
    """RTU frame: unit id, PDU, CRC (low byte first)."""
    f = bytearray(len(pdu) + 3)
    f[0] = unit
    f[1:-2] = pdu
    c = crc16(memoryview(f)[:-2])
    f[-2] = c & 0xFF
    f[-1] = c >> 8
    return f


def crc_ok(f):
    c = crc16(memoryview(f)[:-2])
    return f[-2] == c & 0xFF and f[-1] == c >> 8


def check(pdu, fc, count):
    """-> the exception code of an exception answer, 0 for a well-formed read answer;
    raises BadFrame otherwise."""
    if pdu[0] == fc | C.ERROR_BIAS and len(pdu) == 2:
        return pdu[1]
    if pdu[0] != fc or len(pdu) != response_len(count) or pdu[1] != 2 * count:
        raise BadFrame("function %d, %d bytes" % (pdu[0], len(pdu)))
    return 0
