# GetDiagnosticsCatalog: answered at once; the descriptors follow as
# NotifyDiagnosticsCatalog parts, built one test at a time. A CSMS that gives the
# catalogVersion it holds gets Unchanged, and no parts, while it is current (DG11).
import clock
from diag import binding
from diag.ops.shapes import GET_CATALOG as REQ

FOLLOWS = 1  # answered in follow-up messages: bounded under floods (rpc)

_PER_PART = 2
_BIG = 8  # parameters


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
    # Up to _PER_PART descriptors a part, but a test with many parameters (meter:
    # 18, over 4 KB of JSON) goes alone: a part's text needs one contiguous block,
    # which a fragmented heap may not have twice that big.
    import log
    reg = agent.diag.registry
    seq = 0
    part = []
    try:
        for t in sel:
            try:
                d = reg.descriptor(t)
            except Exception as e:  # one broken module never costs the rest
                log.warn("diag: catalog: %s left out: %s: %s", t, type(e).__name__, e)
                continue
            if part and (len(part) >= _PER_PART or _big(d) or _big(part[0])):
                await _send_part(agent, req_id, version, seq, True, part, via)
                seq += 1
                part = []
            part.append(d)
            d = None
        if part:
            await _send_part(agent, req_id, version, seq, False, part, via)
            seq += 1
    except Exception as e:
        log.exc(e, "diag: catalog %d aborted after %d parts" % (req_id, seq))


def _big(d):
    return len(d.get("parameter", ())) > _BIG


async def _send_part(agent, req_id, version, seq, tbc, part, via):
    msg = {"requestId": req_id, "catalogVersion": version, "generatedAt": clock.iso(), "seqNo": seq,
           "tbc": tbc, "test": part}
    for n in range(5):
        try:
            return await binding.notify(agent, "NotifyDiagnosticsCatalog", msg, via)
        except MemoryError:
            # Under a burst of requests the heap is in pieces for a moment: a
            # collection and a short wait usually give the block back.
            if n == 4:
                raise
            import asyncio
            import gc
            gc.collect()
            await asyncio.sleep_ms(100)
