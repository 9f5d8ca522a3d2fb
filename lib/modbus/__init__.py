# Modbus client side for the energy meter self test (diag/tests/meter.py): frame.py
# (PDUs and RTU frames, built with umodbus), serialport.py (the RS485 line as an asyncio
# stream: machine.UART + DE pin on a board, a termios serial device on the unix port),
# rtu.py (RTU requests over it), tcp.py (Modbus TCP). Everything is imported only while
# the meter test runs. umodbus's own transports are not used: they block the event loop.
