"""How every command runs: open the deployment from settings, do the work in transactions, and
turn any error into one line on stderr and a non-zero exit. Results are one JSON object on
stdout; progress goes to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session

from perfhub.core.db import session_scope
from perfhub.core.errors import PerfhubError
from perfhub.pipeline.runtime import Runtime
from perfhub.settings import Settings, get_settings

err = Console(stderr=True)
T = TypeVar("T")
# The one line an expected error becomes, or None for an error the command does not expect
# (which then surfaces as a traceback: a bug, not an operator's mistake).
Told = Callable[[Exception], str | None]


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def detail(exc: Exception) -> str | None:
    """A domain error's own message; anything else is unexpected."""
    return exc.detail if isinstance(exc, PerfhubError) else None


def redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}" if ":" in creds else url
    return url


class Job:
    """One command's run on an open :class:`Runtime`. Services only flush: :meth:`transaction`
    is where a command's work is committed (or rolled back, on any error)."""

    def __init__(self, rt: Runtime, told: Told) -> None:
        self.rt = rt
        self.told = told

    @property
    def settings(self) -> Settings:
        return self.rt.settings

    @contextmanager
    def guard(self, told: Told | None = None) -> Iterator[None]:
        """Expected errors raised inside become :func:`fail` (``told`` overrides the job's)."""
        try:
            yield
        except Exception as exc:
            message = (told or self.told)(exc)
            if message is None:
                raise
            fail(message)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.guard(), session_scope(self.rt.sessions) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only: nothing to commit."""
        with self.guard(), self.rt.sessions() as session:
            yield session

    def deliver(self) -> None:
        """Run the consumers of what the job published, unless NATS workers do that elsewhere."""
        if not self.rt.uses_nats:
            self.rt.bus.drain()


@contextmanager
def job(*, upgrade: bool = True, told: Told = detail) -> Iterator[Job]:
    """Settings from the environment, the schema upgraded, the runtime built and closed after.
    A database that cannot be opened is one line, not a traceback."""
    settings = get_settings()
    try:
        if upgrade:
            from perfhub.core.migrate import upgrade as upgrade_schema

            upgrade_schema(settings.database_url)
        rt = Runtime.build(settings)
    except PerfhubError as exc:
        fail(exc.detail)
    except Exception as exc:  # an unreachable database, a bad URL: one line, not a traceback
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        fail(f"cannot open the database {redact(settings.database_url)}: {reason}")
    try:
        yield Job(rt, told)
    finally:
        rt.close()


def transact(work: Callable[[Session], T]) -> T:
    """``work`` in one transaction of its own job (the user, team and token commands)."""
    with job() as current, current.transaction() as session:
        return work(session)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
