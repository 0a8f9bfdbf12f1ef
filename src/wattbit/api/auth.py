"""Bearer tokens and browser sessions, with roles viewer < operator < admin.

A token is ``wbt_`` followed by 43 URL-safe characters (256 random bits). Only its SHA-256 hash is stored (a token
has too much entropy for a slow hash to add anything) with the first characters for recognising it in a list; the
token itself is shown once, when it is created, and appears in no log and no other response. A browser logs in by
giving a token once (``POST /api/v1/session``); it gets a session cookie (``HttpOnly``, ``SameSite=Strict``) whose
id is also stored hashed and dies with its token. Writes authenticated by the cookie must carry the header
``X-Wattbit-CSRF: 1``, which a cross-site form cannot send (and CORS is closed by default).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session as DbSession

from wattbit.api.db import ROLES, AuditEntry, Session, Token, now_s
from wattbit.errors import WattbitInputError

TOKEN_PREFIX = "wbt_"
SESSION_COOKIE = "wattbit_session"
CSRF_HEADER = "x-wattbit-csrf"
#: A browser session lasts this long [s].
SESSION_TTL_S = 12 * 3600.0


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, name (as in the audit log) and role."""

    token_id: int
    name: str
    role: str
    via_cookie: bool = False

    def may(self, role: str) -> bool:
        """Whether this principal has ``role`` or a stronger one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def hash_secret(secret: str) -> str:
    """SHA-256 of a token or session id, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh bearer token (256 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_name(name: str) -> str:
    """A token name: 1-100 printable characters, no leading or trailing space."""
    if not name or len(name) > 100 or name != name.strip() or not name.isprintable():
        raise WattbitInputError(f"a token name is 1-100 printable characters, got {name!r}", field="name")
    return name


def check_role(role: str) -> str:
    """One of :data:`~wattbit.api.db.ROLES`."""
    if role not in ROLES:
        raise WattbitInputError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}", field="role")
    return role


def create_token(db: DbSession, name: str, role: str, created_by: str = "cli") -> tuple[Token, str]:
    """Store a new token (hashed) and return its row and the token itself (shown once)."""
    check_name(name)
    check_role(role)
    if db.scalar(select(Token).where(Token.name == name)) is not None:
        raise WattbitInputError(f"a token named {name!r} exists already; choose another name", field="name")
    secret = new_token()
    row = Token(
        name=name,
        role=role,
        token_hash=hash_secret(secret),
        prefix=secret[:8],
        created_s=now_s(),
        created_by=created_by,
    )
    db.add(row)
    db.flush()
    audit(db, created_by, "admin" if created_by == "cli" else role, "token.create", name, {"role": role})
    return row, secret


def authenticate_token(db: DbSession, secret: str) -> Principal | None:
    """The principal of a bearer token, or None when it is unknown or revoked."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    digest = hash_secret(secret)
    row = db.scalar(select(Token).where(Token.token_hash == digest, Token.revoked_s.is_(None)))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return Principal(row.id, row.name, row.role)


class PrincipalCache:
    """Principals of recently seen bearer tokens, by hash, for ``ttl_s`` seconds: a read under load then needs no
    database round trip to authenticate. A revocation through this process clears the cache at once; one made by
    another process (or ``wattbit token``) takes effect within ``ttl_s``."""

    def __init__(self, ttl_s: float = 10.0) -> None:
        self.ttl_s = ttl_s
        self.entries: dict[str, tuple[Principal, float]] = {}

    def get(self, secret: str) -> Principal | None:
        """The cached principal of ``secret``, or None."""
        hit = self.entries.get(hash_secret(secret))
        if hit is None or hit[1] < now_s():
            return None
        return hit[0]

    def put(self, secret: str, principal: Principal) -> None:
        """Remember ``principal`` for ``secret``."""
        if len(self.entries) > 10_000:
            self.entries.clear()
        self.entries[hash_secret(secret)] = (principal, now_s() + self.ttl_s)

    def clear(self) -> None:
        """Forget everything (after a revocation)."""
        self.entries.clear()


def open_session(db: DbSession, principal: Principal) -> str:
    """A new browser session for ``principal``; returns the cookie value (stored hashed)."""
    sid = secrets.token_urlsafe(32)
    t = now_s()
    db.execute(delete(Session).where(Session.expires_s < t))
    db.add(
        Session(session_hash=hash_secret(sid), token_id=principal.token_id, created_s=t, expires_s=t + SESSION_TTL_S)
    )
    return sid


def authenticate_session(db: DbSession, sid: str) -> Principal | None:
    """The principal of a session cookie, or None when it is unknown, expired or its token revoked."""
    if not sid or len(sid) > 200:
        return None
    row = db.execute(
        select(Token)
        .join(Session, Session.token_id == Token.id)
        .where(Session.session_hash == hash_secret(sid), Session.expires_s > now_s(), Token.revoked_s.is_(None))
    ).scalar_one_or_none()
    return None if row is None else Principal(row.id, row.name, row.role, via_cookie=True)


def close_session(db: DbSession, sid: str) -> None:
    """Forget a session."""
    db.execute(delete(Session).where(Session.session_hash == hash_secret(sid)))


def revoke_token(db: DbSession, token_id: int) -> Token | None:
    """Revoke a token and end its sessions; returns its row, or None when there is no such token."""
    row = db.get(Token, token_id)
    if row is None:
        return None
    if row.revoked_s is None:
        db.execute(update(Token).where(Token.id == token_id).values(revoked_s=now_s()))
        db.execute(delete(Session).where(Session.token_id == token_id))
        db.refresh(row)
    return row


def audit(db: DbSession, actor: str, role: str, action: str, target: str, detail: dict[str, object]) -> AuditEntry:
    """Add an entry to the audit log in the caller's transaction (so that it commits with the change itself)."""
    entry = AuditEntry(time_s=now_s(), actor=actor, role=role, action=action, target=target, detail=detail)
    db.add(entry)
    return entry
