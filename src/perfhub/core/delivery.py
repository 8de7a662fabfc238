"""Delivering a batch of events to a handler so that one poison event cannot hold back the rest.

Both buses use :func:`deliver`: the batch goes through in one transaction; if that fails, each
event goes through alone, and the ones that still fail come back with their exception so that
the bus can retry them later or dead-letter them with the reason (:func:`failure_reason`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from perfhub.core.outbox import PermanentError

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    done: list[T] = field(default_factory=list)
    failed: list[tuple[T, Exception]] = field(default_factory=list)


def _never(_exc: Exception) -> bool:
    return False


def deliver(
    batch: Sequence[T],
    handle: Callable[[Sequence[T]], None],
    *,
    hold: Callable[[Exception], bool] = _never,
) -> Outcome[T]:
    """Run ``handle`` (one transaction per call) over the batch, isolating any poison event.

    A batch failure for which ``hold`` is true is not the events' fault (the database is
    down, say): it propagates so that the caller can keep the whole batch and try it again.
    """
    try:
        handle(batch)
        return Outcome(done=list(batch))
    except Exception as exc:
        if hold(exc):
            raise
        if len(batch) == 1:
            return Outcome(failed=[(batch[0], exc)])
    outcome: Outcome[T] = Outcome()
    for item in batch:
        try:
            handle([item])
        except Exception as exc:
            outcome.failed.append((item, exc))
        else:
            outcome.done.append(item)
    return outcome


def failure_reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def is_final(exc: BaseException, attempts: int, max_attempts: int) -> bool:
    """Dead-letter now: retrying cannot help, or the attempts are spent."""
    return isinstance(exc, PermanentError) or attempts >= max_attempts


def payload_user(payload: dict[str, Any]) -> int | None:
    """The athlete a dead letter belongs to (erasure deletes it with them), if the payload says."""
    user_id = payload.get("userId")
    return user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None
