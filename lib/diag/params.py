# Parameter values checked against a test's descriptor before anything starts.
# A refusal names the parameter (reasonCode + additionalInfo), so an operator or an
# AI agent can correct the request without guessing.
#
# A descriptor parameter is a tuple:
#   (name, dataType, unit, min, max, allowedValues, default, required, description)
# dataType: integer, decimal, boolean, string, enum.

_NAME = 0
_TYPE = 1
_MIN = 3
_MAX = 4
_ALLOWED = 5
_DEFAULT = 6
_REQUIRED = 7


class Refused(Exception):
    def __init__(self, code, info):
        super().__init__(info)
        self.code = code  # OCPP reasonCode, at most 20 characters
        self.info = info


def rejected(code, info=None, status="Rejected"):
    """A diagnostics response that refuses, with StatusInfoType's length limits."""
    si = {"reasonCode": code[:20]}
    if info:
        si["additionalInfo"] = info[:1024]
    return {"status": status, "statusInfo": si}


def check_value(p, v):
    """Raise Refused unless v is a valid value of descriptor parameter p."""
    t = p[_TYPE]
    tv = type(v)
    if t == "integer":
        ok = tv is int
    elif t == "decimal":
        ok = tv is int or tv is float
    elif t == "boolean":
        ok = tv is bool
    else:  # string, enum
        ok = tv is str
    if not ok:
        raise Refused("InvalidParameter", "parameter %s: must be %s" % (p[_NAME], "an " + t if t[0] in "aeiou" else "a " + t))
    if t == "enum" and v not in p[_ALLOWED]:
        raise Refused("InvalidParameter", "parameter %s: %s is not one of %s" % (p[_NAME], v, ",".join(p[_ALLOWED])))
    if p[_MIN] is not None and v < p[_MIN] or p[_MAX] is not None and v > p[_MAX]:
        raise Refused("OutOfRange", "parameter %s: %s outside %s..%s" % (p[_NAME], v, p[_MIN], p[_MAX]))


def resolve(spec, given):
    """spec: the test's PARAMS; given: [{"name", "value"}] or None.
    -> dict name -> value with defaults filled in; raises Refused."""
    vals = {}
    for g in given or ():
        name = g["name"]
        for p in spec:
            if p[_NAME] == name:
                break
        else:
            raise Refused("UnknownParameter", "parameter %s: not a parameter of this test" % name)
        if name in vals:
            raise Refused("InvalidParameter", "parameter %s: given twice" % name)
        check_value(p, g["value"])
        vals[name] = g["value"]
    for p in spec:
        if p[_NAME] not in vals:
            if p[_DEFAULT] is not None:
                vals[p[_NAME]] = p[_DEFAULT]
            elif p[_REQUIRED]:
                raise Refused("MissingParameter", "parameter %s: required" % p[_NAME])
    return vals


def as_list(vals):
    return [{"name": k, "value": vals[k]} for k in sorted(vals)]


def describe(p):
    """One parameter as DiagnosticParameterType."""
    d = {"name": p[_NAME], "dataType": p[_TYPE], "required": p[_REQUIRED]}
    if p[2]:
        d["unit"] = p[2]
    if p[_MIN] is not None:
        d["minValue"] = p[_MIN]
    if p[_MAX] is not None:
        d["maxValue"] = p[_MAX]
    if p[_ALLOWED]:
        d["allowedValues"] = list(p[_ALLOWED])
    if p[_DEFAULT] is not None:
        d["defaultValue"] = p[_DEFAULT]
    if p[8]:
        d["description"] = p[8]
    return d


def compact(spec):
    """The device-model form: name:type[min..max]=default;..."""
    out = []
    for p in spec:
        s = "%s:%s" % (p[_NAME], p[_TYPE])
        if p[_MIN] is not None or p[_MAX] is not None:
            s += "[%s..%s]" % ("" if p[_MIN] is None else p[_MIN], "" if p[_MAX] is None else p[_MAX])
        if p[_ALLOWED]:
            s += "{%s}" % "|".join(p[_ALLOWED])
        if p[_DEFAULT] is not None:
            s += "=%s" % p[_DEFAULT]
        out.append(s)
    return ";".join(out)
