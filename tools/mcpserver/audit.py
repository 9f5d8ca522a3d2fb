"""The MCP journal: one JSON line per call, with the caller's identity.

The console keeps its own records (runs with their requestor, events); this journal
adds what only the MCP server sees: every tool call, refused or not, and every
request turned away at the HTTP endpoint.  Appended with one write per line (O_APPEND),
so lines from concurrent calls never interleave.
"""
import json
import os
import time

_MAX_ARGS = 4000  # characters of arguments kept per line: a journal, not a dump


class Audit:
    def __init__(self, path):
        self.path = path
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def write(self, **record):
        if not self.path:
            return
        record = dict(time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **record)
        args = record.get("arguments")
        if args is not None:
            text = json.dumps(args, ensure_ascii=False, default=str)
            if len(text) > _MAX_ARGS:
                record["arguments"] = {"truncated": text[:_MAX_ARGS]}
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
