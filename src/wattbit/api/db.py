"""The service's database: tables (SQLAlchemy 2), engines for SQLite (WAL) and PostgreSQL, and migrations (Alembic).

SQLite in write-ahead-log mode with ``synchronous=FULL`` is the embedded default (``sqlite:///PATH``): every
acknowledged write is in the log on disk before the answer goes out, so that a ``kill -9`` of the server loses
nothing it acknowledged. PostgreSQL (``postgresql+psycopg://USER@HOST:PORT/DB``) serves several users and several
server processes. The schema is created and upgraded by Alembic (:func:`migrate`), never by ``create_all``, so that a
database made by an older release upgrades in place.

Times are Unix seconds (``*_s``, float); free-form details are JSON.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from wattbit.errors import WattbitInputError

#: Roles, weakest first: a role may do what the roles before it may.
ROLES = ("viewer", "operator", "admin")
#: States of a run; the last four are final.
RUN_STATES = ("queued", "starting", "running", "succeeded", "failed", "cancelled")
FINAL_RUN_STATES = frozenset({"succeeded", "failed", "cancelled"})


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Token(Base):
    """A bearer token: its name (shown in the audit log), role and SHA-256 hash; the token itself is never stored."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_s: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class Session(Base):
    """A browser session opened with a token (cookie ``wattbit_session``, stored hashed)."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), index=True)
    created_s: Mapped[float] = mapped_column(Float)
    expires_s: Mapped[float] = mapped_column(Float)


class ScenarioRow(Base):
    """A scenario: the built-in ones and uploaded TOML files (the text as uploaded)."""

    __tablename__ = "scenarios"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # "builtin" or "upload"
    toml: Mapped[str] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_s: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(100))


class Run(Base):
    """A background run of ``simulate``, ``bench`` or ``plan`` and its state (see :mod:`wattbit.api.runs`)."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    scenario_id: Mapped[str] = mapped_column(ForeignKey("scenarios.id"), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_s: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(100))
    started_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    heartbeat_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_s: Mapped[float] = mapped_column(Float)
    worker_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    worker_host: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEntry(Base):
    """One change: who (the token's name), with which role, did what to what, and the details."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time_s: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class SettingRow(Base):
    """A named setting (the control loop's mode) with who changed it last."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_s: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str] = mapped_column(String(100))


def default_db_url(path: Path | str = "out/service/wattbit.sqlite") -> str:
    """The embedded default: a SQLite file (its folder is created when the engine is made)."""
    return f"sqlite:///{Path(path)}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite files get WAL, ``synchronous=FULL``, foreign keys and a busy timeout.

    Raises
    ------
    WattbitInputError
        For a URL of another kind of database, or an in-memory SQLite database (it would not survive a restart).
    """
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path or path == ":memory:":
            raise WattbitInputError(
                f"a SQLite URL names a file (sqlite:///path/to/wattbit.sqlite), got {url!r}", field="db"
            )
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30.0, "check_same_thread": False}, pool_size=20)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if url.startswith("postgresql"):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)
    raise WattbitInputError(
        f"expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB, got {url.split('://')[0]}://...", field="db"
    )


def migrate(engine: Engine) -> str:
    """Create or upgrade the schema to the newest Alembic revision; returns that revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    """The schema's Alembic revision, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def sessions(engine: Engine) -> sessionmaker[Any]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def now_s() -> float:
    """Wall-clock time [Unix s]."""
    return time.time()
