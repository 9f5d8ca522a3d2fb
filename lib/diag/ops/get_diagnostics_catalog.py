# GetDiagnosticsCatalog: answered at once; the descriptors follow as
# NotifyDiagnosticsCatalog parts, built one test at a time. A CSMS that gives the
# catalogVersion it holds gets Unchanged, and no parts, while it is current (DG11).
import clock
from diag import binding
from diag.ops.shapes import GET_CATALOG as REQ

FOLLOWS = 1  # answered in follow-up messages: bounded under floods (rpc)

_PER_PART = 2


def handle(agent, p):
    d = agent.diag
    v = d.registry.version()
    if p.get("catalogVersion") == v:
        return {"status": "Unchanged", "catalogVersion": v}
    types = p.get("testType")
    ids = p.get("testId")
    sel = [t for t, ty in d.registry.index if (not types or ty in types) and (not ids or t in ids)]
    if not sel:
        return {"status": "EmptyResultSet", "catalogVersion": v}
    return {"status": "Accepted", "catalogVersion": v}, _send(agent, p["requestId"], sel, d.via, v)


async def _send(agent, req_id, sel, via, version):
    # One stream of parts at a time (reports, catalogs, result reports share the
    # lock): parts waiting for the one CALL in flight would each hold their data.
    async with agent.report_lock:
        await _parts(agent, req_id, sel, via, version)


async def _parts(agent, req_id, sel, via, version):
    import log
    reg = agent.diag.registry
    seq = 0
    try:
        for i in range(0, len(sel), _PER_PART):
            part = []
            for t in sel[i:i + _PER_PART]:
                try:
                    part.append(reg.descriptor(t))
                except Exception as e:  # one broken module never costs the rest
                    log.warn("diag: catalog: %s left out: %s: %s", t, type(e).__name__, e)
            if not part:
                continue
            await binding.notify(agent, "NotifyDiagnosticsCatalog", {
                "requestId": req_id, "catalogVersion": version, "generatedAt": clock.iso(), "seqNo": seq,
                "tbc": i + _PER_PART < len(sel), "test": part}, via)
            part = None
            seq += 1
    except Exception as e:
        log.exc(e, "diag: catalog %d aborted after %d parts" % (req_id, seq))
