"""Credentials: station passwords (scrypt, salted) and operator tokens (roles).

A station's password opens only its own OCPP connection; an operator token opens
only the HTTP API.  The two live in different tables and are checked by different
code, so one can never stand in for the other.
"""
import asyncio
import base64
import concurrent.futures
import hashlib
import hmac
import secrets
from dataclasses import dataclass

# Ordered: each role may do what the ones before it may.
ROLES = ("read", "run", "run-intrusive", "admin")

# scrypt cost: ~50 ms and 16 MB per verification on this machine; the verified
# results are cached (PasswordCache) so a reconnect storm does not pay it again.
_N, _R, _P = 1 << 14, 8, 1
# Off the event loop, on two threads of their own: each thread keeps its own malloc
# arena with a 16 MB scrypt buffer in it, so the thread count bounds that memory.
_POOL = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="scrypt")


@dataclass(frozen=True)
class Actor:
    """Who is asking: an operator token's name and role, or an internal caller
    ("schedule:<name>", later "mcp:<client>", "playbook:<name>")."""
    name: str
    role: str

    def may(self, role):
        return ROLES.index(self.role) >= ROLES.index(role)


class Forbidden(Exception):
    def __init__(self, actor, role, what):
        super().__init__("%s needs role %r; %r has %r" % (what, role, actor.name, actor.role))
        self.needed = role


def require(actor, role, what):
    if not actor.may(role):
        raise Forbidden(actor, role, what)


def hash_secret(secret):
    salt = secrets.token_bytes(16)
    h = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "scrypt$%d$%d$%d$%s$%s" % (_N, _R, _P, _b64(salt), _b64(h))


async def hash_secret_async(secret):
    return await asyncio.get_running_loop().run_in_executor(_POOL, hash_secret, secret)


async def verify_secret_async(secret, stored):
    return await asyncio.get_running_loop().run_in_executor(_POOL, verify_secret, secret, stored)


def verify_secret(secret, stored):
    if not stored or not isinstance(secret, str):
        return False
    try:
        kind, n, r, p, salt, want = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(_unb64(want)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(want))


class PasswordCache:
    """Remembers (station, stored hash, password) triples that verified, as a keyed
    digest under a per-process key: a reconnect costs one HMAC, not one scrypt, and
    the cache holds nothing that would verify a password outside this process."""

    def __init__(self):
        self._key = secrets.token_bytes(32)
        self._ok = {}

    def _tag(self, station, stored, secret):
        msg = "\0".join((station, stored, secret)).encode()
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def known(self, station, stored, secret):
        tag = self._ok.get(station)
        return tag is not None and hmac.compare_digest(tag, self._tag(station, stored, secret))

    def remember(self, station, stored, secret):
        self._ok[station] = self._tag(station, stored, secret)

    def forget(self, station):
        self._ok.pop(station, None)


def new_token():
    """-> (token shown once to the operator, digest stored).  256 random bits: a fast
    hash is enough (nothing to brute-force), and lets the API look it up by index."""
    token = "cdt_" + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(b):
    return base64.b64encode(b).decode()


def _unb64(s):
    return base64.b64decode(s.encode(), validate=True)
