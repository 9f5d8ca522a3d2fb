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
    # Up to _PER_PART descriptors a part, each built as the part goes out and dropped
    # once its text left (rpc streams the list): the meter's alone is over 4 KB of
    # JSON, and a part made whole needs that as one block, which a fragmented heap
    # may not have.
    import log
    reg = agent.diag.registry
    st = [0, 0]  # index in sel of this part's first test, of the next one to build
    seq = 0

    def tests():
        # Made again from the part's first test if the part is sent again.
        st[1] = st[0]
        n = 0
        while st[1] < len(sel) and n < _PER_PART:
            t = sel[st[1]]
            st[1] += 1
            try:
                d = reg.descriptor(t)
            except MemoryError:
                raise  # the part is sent again (_send_part)
            except Exception as e:  # one broken module never costs the rest
                log.warn("diag: catalog: %s left out: %s: %s", t, type(e).__name__, e)
                continue
            yield d
            n += 1
        if not n:
            # Every test left for this part failed to describe itself (a test's
            # descriptor is checked when it loads, so only something like a broken
            # file does this): a part needs one test, so nothing is sent (this is
            # raised before the part's first bytes leave) and the catalog ends here.
            raise ValueError("no test left to describe")

    def rest():
        return {"requestId": req_id, "catalogVersion": version, "generatedAt": clock.iso(),
                "seqNo": seq, "tbc": st[1] < len(sel)}

    try:
        while st[0] < len(sel):
            await _send_part(agent, rest, tests, via)
            st[0] = st[1]
            seq += 1
    except Exception as e:
        log.exc(e, "diag: catalog %d aborted after %d parts" % (req_id, seq))


async def _send_part(agent, rest, tests, via):
    for n in range(5):
        try:
            return await binding.notify(agent, "NotifyDiagnosticsCatalog", rest, via, ("test", tests))
        except MemoryError:
            # Under a burst of requests the heap is in pieces for a moment: a
            # collection and a short wait usually give the block back.
            if n == 4:
                raise
            import asyncio
            import gc
            gc.collect()
            await asyncio.sleep_ms(100)
