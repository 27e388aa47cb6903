"""The listening-test database: tables, engine, sessions, migrations.

Every write is committed at once (one transaction per request), so a server killed
mid-session loses nothing already answered. The schema is created and upgraded by
Alembic (``cadenza/web/migrations``), never by ``create_all``, so a database made by
an older cadenza is upgraded in place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Stimulus(Base):
    """One audio clip of the pool; ``kind`` is the answer key and never leaves the server."""

    __tablename__ = "stimuli"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # human | machine | catch
    model: Mapped[str] = mapped_column(String(200), default="")
    task: Mapped[str] = mapped_column(String(32), default="")  # corpus|generate|continue|...
    source: Mapped[str] = mapped_column(String(300), default="")
    filename: Mapped[str] = mapped_column(String(80), unique=True)  # made by the server
    seconds: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ListeningSession(Base):
    """One participant's visit: identified by a cookie; the IP only as a salted hash."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    ip_hash: Mapped[str] = mapped_column(String(64), index=True)
    mode: Mapped[str] = mapped_column(String(8))  # pairs | single
    experience: Mapped[str] = mapped_column(String(16))
    consent: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    trials: Mapped[list[Trial]] = relationship(back_populates="session",
                                               order_by="Trial.position")


class Trial(Base):
    """One question of a session. Pairs: clips a and b, ``human_slot`` says which is Bach.
    Single: clip a only, its stimulus kind is the truth."""

    __tablename__ = "trials"
    __table_args__ = (UniqueConstraint("session_id", "position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))  # main | catch | repeat
    stimulus_a_id: Mapped[int] = mapped_column(ForeignKey("stimuli.id"))
    stimulus_b_id: Mapped[int | None] = mapped_column(ForeignKey("stimuli.id"), nullable=True)
    human_slot: Mapped[str | None] = mapped_column(String(1), nullable=True)
    token_a: Mapped[str] = mapped_column(String(64), unique=True)
    token_b: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    repeat_of: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a position
    shown_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    session: Mapped[ListeningSession] = relationship(back_populates="trials")
    stimulus_a: Mapped[Stimulus] = relationship(foreign_keys=[stimulus_a_id])
    stimulus_b: Mapped[Stimulus | None] = relationship(foreign_keys=[stimulus_b_id])
    response: Mapped[Response | None] = relationship(back_populates="trial", uselist=False)


class Response(Base):
    """The answer to one trial (at most one: a second submission is refused)."""

    __tablename__ = "responses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    answer: Mapped[str] = mapped_column(String(8))  # a | b | human | machine
    confidence: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1..5, single
    correct: Mapped[bool] = mapped_column(Boolean)
    response_ms: Mapped[int] = mapped_column(Integer)  # server: trial shown -> answer
    client_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    trial: Mapped[Trial] = relationship(back_populates="response")


class PlayEvent(Base):
    """A play, pause, seek or end of a clip, as the browser reported it."""

    __tablename__ = "play_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    slot: Mapped[str] = mapped_column(String(1))
    event: Mapped[str] = mapped_column(String(16))
    position_s: Mapped[float] = mapped_column(Float)
    client_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL (readers never block the writer), a busy
    timeout and enforced foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema with Alembic."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")
