# Compliance test: the live device model against a policy of rules
#   Component[.instance].Variable[variableInstance] <op> value     op: == != < <= > >=
# separated by ';', e.g. "OCPPCommCtrlr.HeartbeatInterval <= 600; SecurityCtrlr.SecurityProfile >= 2".
# The rules come from the parameter, else from the config key complianceRules.
# Each rule is one measurement: name = its left side, limit = "<op> value", value = the
# actual value when it is a number (true/false as 1/0), else 1 when the rule holds and
# 0 when not, with the text in the evidence. A rule naming a component or variable the
# station does not have does not hold (the policy is not met) and is named in the
# evidence. Components of an EVSE or connector cannot be named (no syntax for them).
# Bad syntax is an Error before any rule is checked: parameter checks know types and
# ranges, not grammars.
import asyncio

TYPE = "ComplianceTest"
VERSION = "1.0"
DESCRIPTION = "Device-model variables against rules such as 'OCPPCommCtrlr.HeartbeatInterval <= 600'"
PARAMS = (
    ("rules", "string", None, None, None, None, None, False,
     "rules separated by ';' (at most 1000 characters, 20 rules); default: config complianceRules"),
)
CONSTRAINTS = (None, False, (), 10, 0, False)
MEASURES = (("Component.Variable", None, "<op> value, per rule"),)
VERDICTS = ("Passed", "Failed", "Inconclusive", "Error")
SCOPE = "station"
CLASSES = ("ConfigurationCompliance",)
# expectedDuration s, flashWrites (files written per run), flashBytes, network
COST = (0, 0, 0, "None")
OUTCOME = "Passed: every rule holds for the station's current device model"

_OPS = ("==", "!=", "<", "<=", ">", ">=")
_MAX_TEXT = 1000
_MAX_RULES = 20


def _num(s):
    if s == "true" or s == "false":
        return 1 if s == "true" else 0
    try:
        return int(s)
    except ValueError:
        try:
            return float(s)
        except ValueError:
            return None


def parse(text):
    """-> [(left, component, instance, variable, varInstance, op, value)]; raises
    ValueError naming the rule (1-based) and what is wrong with it."""
    if len(text) > _MAX_TEXT:
        raise ValueError("rules: %d characters, at most %d" % (len(text), _MAX_TEXT))
    out = []
    for n, r in enumerate(text.split(";")):
        r = r.strip()
        if not r:
            continue
        k = 0
        while k < len(r) and r[k] not in "<>=!":
            k += 1
        op = r[k:k + 2] if r[k:k + 2] in _OPS else r[k:k + 1]
        left = r[:k].strip()
        val = r[k + len(op):].strip()
        parts = left.split(".")
        if op not in _OPS or not val:
            raise ValueError("rule %d '%s': expected 'Component.Variable <op> value', op one of %s"
                             % (n + 1, r, " ".join(_OPS)))
        if not 2 <= len(parts) <= 3 or not all(parts) or " " in left:
            raise ValueError("rule %d '%s': left side must be Component[.instance].Variable" % (n + 1, r))
        if op[0] in "<>" and _num(val) is None:
            raise ValueError("rule %d '%s': %s needs a number" % (n + 1, r, op))
        var = parts[-1]
        vinst = None
        if var.endswith("]") and "[" in var:
            var, vinst = var[:-1].split("[", 1)
        out.append((left, parts[0], parts[1] if len(parts) == 3 else None, var, vinst, op, val))
        if len(out) > _MAX_RULES:
            raise ValueError("more than %d rules" % _MAX_RULES)
    return out


def _holds(a, op, e):
    if op == "==":
        return a == e
    if op == "!=":
        return a != e
    if op == "<":
        return a < e
    if op == "<=":
        return a <= e
    if op == ">":
        return a > e
    return a >= e


async def run(ctx):
    text = ctx.p.get("rules") or ctx.agent.cfg.get("complianceRules") or ""
    try:
        rules = parse(text)
    except ValueError as e:
        ctx.fail("BadRule", str(e))
        return "Error"
    if not rules:
        ctx.fail("NoRules", "no rules: give the parameter rules or the config key complianceRules")
        ctx.evidence("no rules to check")
        return "Inconclusive"
    dm = ctx.agent.dm
    bad = []
    for left, cname, cinst, var, vinst, op, val in rules:
        limit = ("%s %s" % (op, val))[:100]
        comp = dm.component(cname, cinst)
        v = comp and comp.find(var, vinst)
        why = None
        if comp is None:
            why = "unknown component %s%s" % (cname, "." + cinst if cinst else "")
        elif v is None:
            why = "unknown variable %s" % var
        elif v[3] == "W":
            why = "write-only: cannot be read"
        if why:
            ctx.measure(left[:50], 0, None, limit, False)
            bad.append("%s: %s" % (left, why))
            continue
        actual = dm.value(comp, v)
        a = _num(actual)
        e = _num(val)
        if a is not None and e is not None:
            ok = _holds(a, op, e)
            ctx.measure(left[:50], a, v[4] or None, limit, ok)
        else:
            # Text compares as text; an order needs numbers on both sides.
            ok = op in ("==", "!=") and (actual == val) == (op == "==")
            ctx.measure(left[:50], 1 if ok else 0, None, limit, ok)
        if not ok:
            bad.append("%s = %s, not %s" % (left, actual, limit))
        await asyncio.sleep_ms(0)  # a variable's value may come from a live getter
    ctx.evidence("%d of %d rules hold%s" % (len(rules) - len(bad), len(rules),
                                             "; " + "; ".join(bad) if bad else ""))
    if bad:
        ctx.fail("NonCompliant", "; ".join(bad))
        return "Failed"
    return "Passed"
