"""Stream tickets: how a browser's EventSource proves who it is.

EventSource cannot send an Authorization header, and a long-lived operator token in
a URL would end up in browser history and proxy logs.  So the page trades its bearer
token (POST /api/events/ticket) for a ticket that opens /api/events exactly once,
within TTL seconds.  The ticket remembers the token's digest, not the actor: a token
removed in between no longer opens the stream.  Tickets live in this process only
(a page talks to one console process).
"""
import secrets
import time

TTL = 30.0
_MAX = 1000  # outstanding tickets: a client that asks in a loop cannot grow memory


class Tickets:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._open = {}  # ticket -> (token digest, expiry)

    def issue(self, token_digest):
        self._prune()
        if len(self._open) >= _MAX:
            # Oldest first: insertion order is issue order.
            del self._open[next(iter(self._open))]
        ticket = "cst_" + secrets.token_urlsafe(24)
        self._open[ticket] = (token_digest, self._clock() + TTL)
        return ticket

    def redeem(self, ticket):
        """-> the token digest it was issued for, or None (unknown, used or expired)."""
        if not isinstance(ticket, str) or len(ticket) > 64:
            return None
        entry = self._open.pop(ticket, None)  # once only, whatever the outcome
        if entry is None or self._clock() > entry[1]:
            return None
        return entry[0]

    def _prune(self):
        now = self._clock()
        for t in [t for t, (_, exp) in self._open.items() if now > exp]:
            del self._open[t]
