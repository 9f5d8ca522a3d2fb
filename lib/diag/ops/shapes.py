# Request shapes of the diagnostics messages for the compact checks
# (docs/diagnostics/schemas/ hold the full JSON schemas).
from ocpp.check import ARR, BOOL, ENUM, EVSE, INT, OBJ, REQ, STR, VAL

TEST_TYPES = ("SelfTest", "IntegrationTest", "HealthCheck", "SecurityTest", "ComplianceTest",
              "PerformanceTest")


PARAM_VALUE = (("name", STR | REQ, 50), ("value", VAL | REQ, None))
TEST_REQUEST = (("testId", STR | REQ, 50), ("parameter", ARR | OBJ, PARAM_VALUE), ("evse", OBJ, EVSE))
SCHEDULE = (("interval", INT | REQ, (0, None)), ("startTime", STR, None))

GET_CATALOG = (("requestId", INT | REQ, None), ("testType", ARR | ENUM, TEST_TYPES),
               ("testId", ARR | STR, 50), ("catalogVersion", STR, 36))
START = (("requestId", INT | REQ, None), ("requestor", STR, 100),
         ("test", ARR | OBJ | REQ, TEST_REQUEST), ("stopOnFailure", BOOL, None),
         ("schedule", OBJ, SCHEDULE))
CANCEL = (("requestId", INT | REQ, None),)
GET_RESULTS = (("requestId", INT | REQ, None), ("testId", ARR | STR, 50), ("from", STR, None),
               ("to", STR, None), ("resultIdFrom", INT, (1, None)),
               ("maxResults", INT, (1, None)))
