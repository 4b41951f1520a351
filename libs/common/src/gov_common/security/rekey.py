"""Retiring personal-data keys: re-encrypt under the active key, rebuild blind indexes under the
current index key, and report what is still under an old one.

A service names its tables holding personal data (:class:`RekeyTable`): the primary key, the
ciphertext columns with the associated data each is bound to, and the blind-index columns with
the ciphertext column whose plaintext they hash. :class:`RekeyJob` walks each table in primary
key order, ``batch_size`` rows per transaction, and writes in the same transaction how far it
got (the service's ``pii_rekey_progress`` table, :class:`RekeyProgressMixin`): after a crash or
a stop it resumes after the last committed row. Progress is kept per *target* (the active key
and the index key id), so retiring the next key starts over. ``rows_per_s`` caps the pace, so
the job can run beside live traffic. :func:`key_report` counts, per table and column, the rows
under each key id; a retired key may be removed once it counts nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import structlog
from fastapi import APIRouter, Request
from prometheus_client import Counter, Gauge
from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    DateTime,
    String,
    Table,
    Text,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.app import SessionDep
from gov_common.db import unit_of_work
from gov_common.problems import PROBLEM_RESPONSES
from gov_common.security.crypto import BlindIndex, FieldCipher

log = structlog.get_logger(__name__)

REKEYED = Counter("gov_pii_rekeyed_rows", "Rows re-encrypted or re-indexed by the job", ["table"])
UNDER_OLD_KEY = Gauge(
    "gov_pii_values_under_old_key",
    "Personal-data values still under a key other than the current one (last check)",
    ["table", "column", "key_id"],
)


class RekeyProgressMixin:
    """How far the re-keying job got: one row per (target, table)."""

    __tablename__: ClassVar[str] = "pii_rekey_progress"

    target: Mapped[str] = mapped_column(String(100), primary_key=True)  # active/index key ids
    table_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_key: Mapped[str | None] = mapped_column(Text)  # primary key of the last row done
    rows_rekeyed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class SealedColumn:
    name: str
    context: Callable[[Any], str]  # row's primary key -> the ciphertext's associated data


@dataclass(frozen=True)
class IndexColumn:
    name: str
    source: str  # the sealed column whose plaintext this hashes
    compute: Callable[[BlindIndex, str | None], str | None]


@dataclass(frozen=True)
class RekeyTable:
    table: Table
    key: str  # single-column primary key
    sealed: Sequence[SealedColumn]
    indexes: Sequence[IndexColumn] = ()
    index_key_column: str | None = None  # where the index key id of the row is stored

    @property
    def name(self) -> str:
        return self.table.name


@dataclass
class RekeyOutcome:
    rows_rekeyed: dict[str, int] = field(default_factory=dict)  # rows rewritten
    rows_read: dict[str, int] = field(default_factory=dict)  # rows looked at (this run)
    finished: bool = False


def target_of(cipher: FieldCipher, index: BlindIndex) -> str:
    return f"{cipher.active_key}/{index.key_id}"


class RekeyJob:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        progress: Any,
        tables: Sequence[RekeyTable],
        cipher: FieldCipher,
        index: BlindIndex,
        *,
        batch_size: int = 200,
        rows_per_s: float = 500.0,
    ) -> None:
        self._sessions = sessions
        self._progress = progress
        self._tables = list(tables)
        self._cipher = cipher
        self._index = index
        self._batch_size = batch_size
        self._rows_per_s = rows_per_s
        self.target = target_of(cipher, index)

    async def run(self, *, max_batches: int | None = None) -> RekeyOutcome:
        """Work until every table is done, or ``max_batches`` transactions have committed."""
        outcome = RekeyOutcome()
        batches = 0
        for spec in self._tables:
            outcome.rows_rekeyed[spec.name] = outcome.rows_read[spec.name] = 0
            while True:
                if max_batches is not None and batches >= max_batches:
                    return outcome
                started = time.monotonic()
                done, rows, more = await self._batch(spec)
                batches += 1
                outcome.rows_rekeyed[spec.name] += done
                outcome.rows_read[spec.name] += rows
                if not more:
                    break
                # The pace: a batch of n rows takes at least n / rows_per_s seconds.
                await asyncio.sleep(
                    max(0.0, rows / self._rows_per_s - (time.monotonic() - started))
                )
        outcome.finished = True
        return outcome

    async def _batch(self, spec: RekeyTable) -> tuple[int, int, bool]:
        """One transaction: the next rows after the saved position. (rekeyed, read, more?)"""
        progress = self._progress
        key_column = spec.table.c[spec.key]
        async with unit_of_work(self._sessions) as session:
            state = await session.get(progress, (self.target, spec.name), with_for_update=True)
            if state is None:
                state = progress(target=self.target, table_name=spec.name, rows_rekeyed=0)
                session.add(state)
                await session.flush()
            if state.finished_at is not None:
                return 0, 0, False
            columns = [key_column, *(spec.table.c[c.name] for c in spec.sealed)]
            columns += [spec.table.c[c.name] for c in spec.indexes]
            if spec.index_key_column:
                columns.append(spec.table.c[spec.index_key_column])
            statement = select(*columns).order_by(key_column).limit(self._batch_size)
            if state.last_key is not None:
                statement = statement.where(
                    key_column > literal(state.last_key).cast(key_column.type)
                )
            rows = (await session.execute(statement.with_for_update())).mappings().all()
            done = 0
            for row in rows:
                changes = self._changes(spec, row)
                if changes:
                    await session.execute(
                        update(spec.table).where(key_column == row[spec.key]).values(**changes)
                    )
                    done += 1
            now = datetime.now(UTC)
            if rows:
                state.last_key = str(rows[-1][spec.key])
            state.rows_rekeyed = (state.rows_rekeyed or 0) + done
            state.updated_at = now
            more = len(rows) == self._batch_size
            if not more:
                state.finished_at = now
        REKEYED.labels(spec.name).inc(done)
        log.info("pii.rekey_batch", table=spec.name, rows=len(rows), rekeyed=done)
        return done, len(rows), more

    def _changes(self, spec: RekeyTable, row: Any) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        plaintexts: dict[str, str | None] = {}
        key = row[spec.key]
        for column in spec.sealed:
            token = row[column.name]
            if token is None:
                plaintexts[column.name] = None
                continue
            context = column.context(key)
            plaintext = self._cipher.decrypt(token, context=context)
            plaintexts[column.name] = plaintext
            if self._cipher.needs_rotation(token):
                changes[column.name] = self._cipher.encrypt(plaintext, context=context)
        if spec.index_key_column and row[spec.index_key_column] != self._index.key_id:
            for index in spec.indexes:
                changes[index.name] = index.compute(self._index, plaintexts.get(index.source))
            changes[spec.index_key_column] = self._index.key_id
        return changes


@dataclass(frozen=True)
class KeyCount:
    table: str
    column: str
    key_id: str | None  # None: a value that names no key (index rows from before key ids)
    rows: int
    current: bool


async def key_report(
    session: AsyncSession, tables: Sequence[RekeyTable], cipher: FieldCipher, index: BlindIndex
) -> list[KeyCount]:
    """Per table and column, how many values each key id holds; sets the metric too."""
    counts: list[KeyCount] = []
    for spec in tables:
        for column in spec.sealed:
            c = spec.table.c[column.name]
            kid = func.split_part(c, ".", 2)
            statement = select(kid, func.count()).where(c.isnot(None)).group_by(kid)
            for key_id, rows in (await session.execute(statement)).all():
                counts.append(
                    KeyCount(spec.name, column.name, key_id, rows, key_id == cipher.active_key)
                )
        if spec.index_key_column:
            c = spec.table.c[spec.index_key_column]
            for i in spec.indexes:
                statement = (
                    select(c, func.count()).where(spec.table.c[i.name].isnot(None)).group_by(c)
                )
                for key_id, rows in (await session.execute(statement)).all():
                    counts.append(KeyCount(spec.name, i.name, key_id, rows, key_id == index.key_id))
    UNDER_OLD_KEY.clear()
    for count in counts:
        if not count.current:
            UNDER_OLD_KEY.labels(count.table, count.column, count.key_id or "").set(count.rows)
    return counts


def under_old_keys(counts: Sequence[KeyCount]) -> list[KeyCount]:
    return [c for c in counts if not c.current]


def _print_report(counts: Sequence[KeyCount]) -> None:
    for c in counts:
        state = "current" if c.current else "OLD"
        print(f"{c.table}.{c.column}\t{c.key_id or '(none recorded)'}\t{c.rows}\t{state}")


def main(
    argv: Sequence[str] | None,
    *,
    database_url: str,
    tables: Sequence[RekeyTable],
    progress: Any,
    cipher: FieldCipher,
    index: BlindIndex,
    prog: str,
) -> int:
    """``run`` (re-key what is under an old key, resumable) or ``check`` (exit 1 while
    anything is still under an old key)."""
    import argparse

    from gov_common.db import create_engine, create_session_factory

    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="re-encrypt and re-index under the current keys")
    run.add_argument("--batch-size", type=int, default=200)
    run.add_argument("--rows-per-s", type=float, default=500.0, help="pace (rows a second)")
    run.add_argument("--max-batches", type=int, default=None, help="stop after N transactions")
    commands.add_parser("check", help="count values per key id; exit 1 if any is old")
    args = parser.parse_args(argv)

    async def go() -> int:
        engine = create_engine(database_url, pool_size=1)
        sessions = create_session_factory(engine)
        try:
            if args.command == "run":
                job = RekeyJob(
                    sessions,
                    progress,
                    tables,
                    cipher,
                    index,
                    batch_size=args.batch_size,
                    rows_per_s=args.rows_per_s,
                )
                outcome = await job.run(max_batches=args.max_batches)
                for table, rows in outcome.rows_rekeyed.items():
                    print(f"{table}: {rows} rows re-keyed (target {job.target})")
                print("finished" if outcome.finished else "stopped: run again to resume")
            async with sessions() as session:
                counts = await key_report(session, tables, cipher, index)
            _print_report(counts)
            old = under_old_keys(counts)
            if old:
                print(f"{sum(c.rows for c in old)} values still under an old key")
            return 1 if old and args.command == "check" else 0
        finally:
            await engine.dispose()

    return asyncio.run(go())


def key_report_router(
    tables: Sequence[RekeyTable],
    progress: Any,
    keys: Callable[[Request], tuple[FieldCipher, BlindIndex]],
) -> APIRouter:
    """``GET /v1/audit/personal-data-keys`` (admins): values per key id and the job's progress;
    also refreshes the ``gov_pii_values_under_old_key`` gauge."""
    router = APIRouter(prefix="/v1/audit", tags=["admin"], responses=PROBLEM_RESPONSES)

    @router.get("/personal-data-keys", summary="Personal data per key id, and the re-keying job")
    async def report(request: Request, session: SessionDep) -> KeyReport:
        cipher, index = keys(request)
        counts = await key_report(session, tables, cipher, index)
        rows = (await session.execute(select(progress).order_by(progress.started_at))).scalars()
        return KeyReport(
            active_key=cipher.active_key,
            index_key_id=index.key_id,
            under_old_keys=sum(c.rows for c in under_old_keys(counts)),
            counts=[KeyCountRead(**vars(c)) for c in counts],
            jobs=[
                JobProgressRead(
                    target=r.target,
                    table=r.table_name,
                    rows_rekeyed=r.rows_rekeyed,
                    updated_at=r.updated_at,
                    finished_at=r.finished_at,
                )
                for r in rows
            ],
        )

    return router


class KeyCountRead(BaseModel):
    table: str
    column: str
    key_id: str | None
    rows: int
    current: bool


class JobProgressRead(BaseModel):
    target: str
    table: str
    rows_rekeyed: int
    updated_at: datetime
    finished_at: datetime | None


class KeyReport(BaseModel):
    active_key: str
    index_key_id: str
    under_old_keys: int  # values still under a key other than the current ones
    counts: list[KeyCountRead]
    jobs: list[JobProgressRead]
