"""Database engine set-up and the few engine differences the services must not see."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiosqlite
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

if TYPE_CHECKING:
    from events.settings import Settings

# How long a SQLite writer waits for the lock before the request gives up with 503.
SQLITE_BUSY_TIMEOUT_S = 5.0
# How long a writer waits for its turn among this process's writers (then 503).
SQLITE_QUEUE_TIMEOUT_S = 30.0
# Connections kept open for statements outside a transaction (reads, mostly), per event loop.
SQLITE_READERS = 4

# SQLite has one writer at a time, and its busy handler polls with growing sleeps: under a
# stampede, waiters starve and time out. Writers of one process queue here instead, first
# come first served; the busy timeout then only arbitrates between processes.
_sqlite_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
_holding_write_lock: ContextVar[bool] = ContextVar("holding_write_lock", default=False)


def _writer_queue() -> asyncio.Lock:
    """One queue per event loop (an asyncio.Lock belongs to the loop it first waits on)."""
    loop = asyncio.get_running_loop()
    queue = _sqlite_writers.get(loop)
    if queue is None:
        queue = _sqlite_writers[loop] = asyncio.Lock()
    return queue


class _ClosingSQLiteTransaction(SQLiteTransaction):
    """Piccolo opens the connection, then runs BEGIN; when BEGIN fails ("database is locked")
    its __aexit__ never runs and the connection — with aiosqlite's non-daemon thread — is never
    closed, so the process cannot exit. Close it ourselves."""

    async def begin(self) -> None:
        try:
            await super().begin()
        except BaseException:
            await self.connection.close()
            raise

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        try:
            return bool(await super().__aexit__(exception_type, exception, traceback))
        except BaseException:
            if self._parent is None:
                await self.connection.close()
                self.engine.current_transaction.reset(self.context)
            raise


class _Readers:
    """Open connections for statements outside a transaction. Piccolo opens a connection — and
    aiosqlite a thread — per such statement, which costs more than a small query itself. In
    autocommit mode with WAL, each statement still reads the latest committed state."""

    def __init__(self, engine: SQLiteEngine, size: int) -> None:
        self.engine = engine
        self.size = size
        self.idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self.in_use = asyncio.Semaphore(size)
        self.opened: list[aiosqlite.Connection] = []
        self.closing: set[asyncio.Future[None]] = set()

    async def acquire(self) -> aiosqlite.Connection:
        await self.in_use.acquire()
        try:
            if not self.idle.empty():
                return self.idle.get_nowait()
            connection = await aiosqlite.connect(**self.engine.connection_kwargs)
            connection.row_factory = dict_factory  # type: ignore[assignment]
            await connection.execute("PRAGMA foreign_keys = 1")
            self.opened.append(connection)
            return connection
        except BaseException:
            self.in_use.release()
            raise

    def release(self, connection: aiosqlite.Connection) -> None:
        self.idle.put_nowait(connection)
        self.in_use.release()

    def discard(self, connection: aiosqlite.Connection) -> None:
        """Close a connection a statement failed or was cancelled on: a statement left active
        would hold its read snapshot, and later reads on that connection would be stale."""
        self.opened.remove(connection)
        self.in_use.release()
        closing = asyncio.ensure_future(connection.close())
        self.closing.add(closing)
        closing.add_done_callback(self.closing.discard)

    async def close(self) -> None:
        for connection in self.opened:
            with contextlib.suppress(Exception):
                await connection.close()
        self.opened.clear()
        if self.closing:
            await asyncio.gather(*self.closing, return_exceptions=True)


class TrefpuntSQLiteEngine(SQLiteEngine):
    """Piccolo's engine, with a few open connections for statements outside a transaction while
    `open_pool()` is in force on the running event loop (the app's lifespan)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Readers] = weakref.WeakKeyDictionary()

    async def _run_in_new_connection(
        self, query: str, args: list[Any] | None = None, query_type: str = "generic", table: Any = None
    ) -> Any:
        readers = self.readers.get(asyncio.get_running_loop())
        if readers is None or (query_type == "insert" and self.get_version_sync() < 3.35):
            return await super()._run_in_new_connection(query, args, query_type, table)
        connection = await readers.acquire()
        try:
            async with connection.execute(query, args or []) as cursor:
                rows = await cursor.fetchall()
        except BaseException:
            readers.discard(connection)
            raise
        readers.release(connection)
        return rows

    async def open_readers(self, size: int = SQLITE_READERS) -> None:
        self.readers.setdefault(asyncio.get_running_loop(), _Readers(self, size))

    async def close_readers(self) -> None:
        readers = self.readers.pop(asyncio.get_running_loop(), None)
        if readers is not None:
            await readers.close()

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> SQLiteTransaction:
        return _ClosingSQLiteTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)


def make_engine(settings: Settings) -> Engine[Any]:
    """Build the Piccolo engine DATABASE_URL asks for."""
    if settings.is_postgres:
        # Bounded waits: a lock held elsewhere gives 503 after a few seconds, never a hang.
        server_settings = {"lock_timeout": "5s", "statement_timeout": "30s"}
        return PostgresEngine(config={"dsn": settings.database_url, "server_settings": server_settings})
    path = settings.sqlite_path
    path.parent.mkdir(parents=True, exist_ok=True)
    return TrefpuntSQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_S)


def engine() -> Engine[Any]:
    from events.tables import Organisation

    return Organisation._meta.db


def enable_sqlite_wal(path: str) -> None:
    """WAL lets readers go on while one writer writes; the mode is stored in the file."""
    with sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


async def open_pool() -> None:
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool(min_size=1, max_size=10)
    elif isinstance(db, SQLiteEngine):
        enable_sqlite_wal(db.path)
        if isinstance(db, TrefpuntSQLiteEngine):
            await db.open_readers()


async def close_pool() -> None:
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.close_connection_pool()
    elif isinstance(db, TrefpuntSQLiteEngine):
        await db.close_readers()


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """One write transaction per use case.

    SQLite takes the write lock at BEGIN (IMMEDIATE), so a read-then-write inside cannot be
    overtaken by another writer; PostgreSQL relies on row locks taken by the statements.
    """
    db = engine()
    if isinstance(db, SQLiteEngine):
        if _holding_write_lock.get():  # nested use inside a write transaction
            yield
            return
        queue = _writer_queue()
        try:
            await asyncio.wait_for(queue.acquire(), timeout=SQLITE_QUEUE_TIMEOUT_S)
        except TimeoutError:
            from events.services.errors import DatabaseBusy

            raise DatabaseBusy() from None
        token = _holding_write_lock.set(True)
        try:
            async with db.transaction(transaction_type=TransactionType.immediate):
                yield
        finally:
            _holding_write_lock.reset(token)
            queue.release()
    else:
        async with db.transaction():
            yield


def is_unique_violation(exc: BaseException) -> bool:
    """Both drivers' duplicate-key errors, so services can map them to one domain error."""
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE" in str(exc)
    try:
        from asyncpg.exceptions import UniqueViolationError
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(exc, UniqueViolationError)


def is_database_busy(exc: BaseException) -> bool:
    """A write lock we could not get in time (SQLite) or a lock timeout (PostgreSQL)."""
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    try:
        from asyncpg.exceptions import LockNotAvailableError, QueryCanceledError, TooManyConnectionsError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, LockNotAvailableError | QueryCanceledError | TooManyConnectionsError)


_UNREACHABLE_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EPIPE}


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it was raised from or during (a rollback on a dead connection
    fails too, and hides the first error in its context)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def is_database_unreachable(exc: BaseException) -> bool:
    """The connection to the database broke or could not be made (network cut, server
    restarting or down). The transaction did not commit, or its answer was lost: the client
    should retry, which is a 503, not a 500."""
    try:
        from asyncpg.exceptions import (
            CannotConnectNowError,
            InterfaceError,
            OperatorInterventionError,
            PostgresConnectionError,
        )
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    for error in _chain(exc):
        if isinstance(error, PostgresConnectionError | CannotConnectNowError | OperatorInterventionError):
            return True
        if isinstance(error, InterfaceError) and "connection is closed" in str(error):
            return True
        if isinstance(error, ConnectionError) or (isinstance(error, OSError) and error.errno in _UNREACHABLE_ERRNOS):
            return True
    return False


def is_storage_full(exc: BaseException) -> bool:
    """The disk under the database (or the app's var directory) is full: nothing was saved."""
    try:
        from asyncpg.exceptions import DiskFullError
    except ImportError:  # pragma: no cover
        return False
    for error in _chain(exc):
        if isinstance(error, sqlite3.OperationalError) and "disk is full" in str(error):
            return True
        if isinstance(error, DiskFullError) or (isinstance(error, OSError) and error.errno == errno.ENOSPC):
            return True
    return False


def _due(table: Any, now: datetime) -> Any:
    return ((table.status == "queued") & (table.next_attempt_at <= now)) | (
        (table.status == "sending") & (table.lease_until < now)
    )


async def claim_due(table: Any, *, now: datetime, lease_until: datetime, limit: int) -> list[dict[str, Any]]:
    """Lease up to `limit` due rows of an outbox-shaped table (status queued|sending,
    next_attempt_at, lease_until, attempts) to this worker and return them, oldest due first.

    PostgreSQL: one UPDATE … FOR UPDATE SKIP LOCKED, so concurrent workers never take the same
    row. SQLite: a write transaction (one writer at a time). A row whose lease ran out is due
    again: the worker that held it died mid-send."""
    # A plain read first: an idle worker must not take SQLite's write lock every second.
    if not await table.exists().where(_due(table, now)):
        return []
    if isinstance(engine(), PostgresEngine):
        name = table._meta.tablename
        # The table name is our own class's, never input.
        claimed = await table.raw(
            f"UPDATE {name} SET status = 'sending', lease_until = {{}}, attempts = attempts + 1 "  # noqa: S608  # nosec B608
            f"WHERE id IN (SELECT id FROM {name} "
            "WHERE (status = 'queued' AND next_attempt_at <= {}) OR (status = 'sending' AND lease_until < {}) "
            "ORDER BY next_attempt_at LIMIT {} FOR UPDATE SKIP LOCKED) RETURNING id",
            lease_until,
            now,
            now,
            limit,
        )
        ids = [row["id"] for row in claimed]
    else:
        async with write_transaction():
            rows = await table.select(table.id).where(_due(table, now)).order_by(table.next_attempt_at).limit(limit)
            ids = [row["id"] for row in rows]
            if ids:
                await table.update(
                    {table.status: "sending", table.lease_until: lease_until, table.attempts: table.attempts + 1}
                ).where(table.id.is_in(ids))
    if not ids:
        return []
    return await table.select().where(table.id.is_in(ids)).order_by(table.id)
