# Line-oriented log on stdout: the unix port's output is what the host tests and
# the operator read; on a device it goes to the REPL UART.
import sys
import time
from micropython import const

DEBUG = const(10)
INFO = const(20)
WARN = const(30)
level = INFO


def _out(tag, msg, args):
    if args:
        try:
            msg = msg % args
        except Exception:
            msg = "%s %r" % (msg, args)
    t = time.gmtime()
    print("%02d:%02d:%02d %s %s" % (t[3], t[4], t[5], tag, msg))


def debug(msg, *args):
    if level <= DEBUG:
        _out("D", msg, args)


def info(msg, *args):
    if level <= INFO:
        _out("I", msg, args)


def warn(msg, *args):
    _out("W", msg, args)


def exc(e, msg):
    _out("E", "%s: %s: %s" % (msg, type(e).__name__, e), None)
    if level <= DEBUG:
        sys.print_exception(e)
