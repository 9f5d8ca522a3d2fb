# Shapes of the CALLRESULTs the agent uses (OCPP 2.1 schemas). The CSMS is input too:
# each response is checked like a request before any field of it is read. A
# notification whose response is empty needs no entry (rpc.call checks for {}).
from ocpp.check import ENUM, INT, JSON, OBJ, REQ, STR

STATUS_INFO = (("reasonCode", STR | REQ, 20), ("additionalInfo", STR, 1024))

BOOT = (("currentTime", STR | REQ, None), ("interval", INT | REQ, None),
        ("status", ENUM | REQ, ("Accepted", "Pending", "Rejected")),
        ("statusInfo", OBJ, STATUS_INFO))
HEARTBEAT = (("currentTime", STR | REQ, None),)
DATA_TRANSFER = (("status", ENUM | REQ, ("Accepted", "Rejected", "UnknownMessageId", "UnknownVendorId")),
                 ("statusInfo", OBJ, STATUS_INFO), ("data", JSON, None))
