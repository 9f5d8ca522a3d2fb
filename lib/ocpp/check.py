# Compact payload checks against the OCPP JSON schemas.
# Full JSON-schema validation does not fit a 100 KB heap; each operation module
# instead declares its request shape as nested tuples (which the compiler keeps as
# constants) and this walks them. Errors map to the OCPP-J error codes:
#   not an object / unknown property -> FormatViolation
#   wrong JSON type                  -> TypeConstraintViolation
#   missing required / empty array / more than maxItems -> OccurrenceConstraintViolation
#   enum, range or length violated   -> PropertyConstraintViolation
from micropython import const

# A field is (name, flags, arg). The low bits of flags give the type:
STR = const(1)    # arg: maxLength
INT = const(2)    # arg: None or (min, max); either bound may be None
NUM = const(3)    # arg: as INT
BOOL = const(4)
OBJ = const(5)    # arg: tuple of fields
ENUM = const(6)   # arg: tuple of allowed strings
ANY = const(7)    # any JSON object (customData-like)
VAL = const(8)    # a JSON number, boolean or string
JSON = const(9)   # any JSON value (anyType, e.g. DataTransfer.data)
ARR = const(16)   # list of the type above
REQ = const(32)
ITEMS = const(256)  # ARR | ... | ITEMS * n: the schema's maxItems is n


class Invalid(Exception):
    def __init__(self, code, desc):
        super().__init__(desc)
        self.code = code


def check(obj, fields, path=""):
    if type(obj) is not dict:
        raise Invalid("FormatViolation", "%s must be an object" % (path or "payload"))
    for k in obj:
        for f in fields:
            if f[0] == k:
                break
        else:
            if k == "customData":
                _custom(obj[k], path + k)
                continue
            raise Invalid("FormatViolation", "unknown property %s%s" % (path, k))
    for name, flags, arg in fields:
        v = obj.get(name)
        p = path + name
        if v is None:
            if name in obj and flags & 15 != JSON:  # anyType admits null too
                raise Invalid("TypeConstraintViolation", "%s is null" % p)
            if flags & REQ:
                raise Invalid("OccurrenceConstraintViolation", "%s is required" % p)
            continue
        if flags & ARR:
            if type(v) is not list:
                raise Invalid("TypeConstraintViolation", "%s must be an array" % p)
            if not v:
                raise Invalid("OccurrenceConstraintViolation", "%s must not be empty" % p)
            most = flags >> 8
            if most and len(v) > most:
                raise Invalid("OccurrenceConstraintViolation", "%s has more than %d items" % (p, most))
            for i, item in enumerate(v):
                _one(item, flags & 15, arg, "%s[%d]" % (p, i))
        else:
            _one(v, flags & 15, arg, p)


def _custom(v, p):
    # CustomDataType: an object with vendorId; any further properties are the vendor's.
    if type(v) is not dict:
        raise Invalid("TypeConstraintViolation", "%s must be an object" % p)
    if "vendorId" not in v:
        raise Invalid("OccurrenceConstraintViolation", "%s.vendorId is required" % p)
    _one(v["vendorId"], STR, 255, p + ".vendorId")


def _one(v, t, arg, p):
    if t == STR:
        if type(v) is not str:
            raise Invalid("TypeConstraintViolation", "%s must be a string" % p)
        if arg and len(v) > arg:
            raise Invalid("PropertyConstraintViolation", "%s longer than %d" % (p, arg))
    elif t == INT or t == NUM:
        tv = type(v)
        if not (tv is int or (t == NUM and tv is float)):
            raise Invalid("TypeConstraintViolation", "%s must be %s" % (p, "an integer" if t == INT else "a number"))
        if arg and ((arg[0] is not None and v < arg[0]) or (arg[1] is not None and v > arg[1])):
            raise Invalid("PropertyConstraintViolation", "%s out of range" % p)
    elif t == BOOL:
        if type(v) is not bool:
            raise Invalid("TypeConstraintViolation", "%s must be a boolean" % p)
    elif t == ENUM:
        if type(v) is not str:
            raise Invalid("TypeConstraintViolation", "%s must be a string" % p)
        if v not in arg:
            raise Invalid("PropertyConstraintViolation", "%s: %s is not allowed" % (p, v))
    elif t == OBJ:
        if type(v) is not dict:
            raise Invalid("TypeConstraintViolation", "%s must be an object" % p)
        check(v, arg, p + ".")
    elif t == VAL:
        if type(v) not in (int, float, bool, str):
            raise Invalid("TypeConstraintViolation", "%s must be a number, boolean or string" % p)
    elif t == ANY:
        if type(v) is not dict:
            raise Invalid("TypeConstraintViolation", "%s must be an object" % p)
    # JSON: any value is allowed.


# Shapes shared by many messages (OCPP 2.1 common datatypes).
EVSE = (("id", INT | REQ, (0, None)), ("connectorId", INT, (0, None)))
COMPONENT = (("name", STR | REQ, 50), ("instance", STR, 50), ("evse", OBJ, EVSE))
VARIABLE = (("name", STR | REQ, 50), ("instance", STR, 50))
ATTR_TYPE = ("Actual", "Target", "MinSet", "MaxSet")
