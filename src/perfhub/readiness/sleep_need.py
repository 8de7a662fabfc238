"""The sleep need in force on a day, for the pages: the athlete's own setting, or the estimate
from their last 60 nights — the engine's :func:`~perfhub.readiness.engine.sleep_debt.daily_need`
run on those nights, so that the figure shown is the one readiness measures against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.readiness.engine.sleep_debt import NEED_MIN_NIGHTS, NEED_WINDOW, daily_need
from perfhub.readings.queries import sleep_days

__all__ = ["SleepNeed", "sleep_need_on"]


@dataclass(frozen=True)
class SleepNeed:
    minutes: float  # the need in force: the setting when there is one, else the estimate
    chosen: bool  # the athlete set it themself
    estimate: float  # what their nights give, set or not (the default until there are enough)
    nights: int  # nights recorded in the estimate's window

    @property
    def nights_missing(self) -> int:
        """Nights still to record before the estimate replaces the default."""
        return max(0, NEED_MIN_NIGHTS - self.nights)


def sleep_need_on(session: Session, user: User, day: date) -> SleepNeed:
    """The need in force on ``day``, from the nights of the 60 days before it (the day's own
    night never counts towards the need it is measured against)."""
    first = day - timedelta(days=NEED_WINDOW)
    minutes = np.full((1, NEED_WINDOW + 1), np.nan)
    for night in sleep_days(session, user, first, day - timedelta(days=1)):
        minutes[0, (night.date - first).days] = night.duration_min
    estimate = float(daily_need(minutes, np.array([np.nan]))[0, -1])
    own = user.sleep_need_min if user.sleep_need_min is not None and user.sleep_need_min > 0 else None
    return SleepNeed(
        minutes=estimate if own is None else float(own),
        chosen=own is not None,
        estimate=estimate,
        nights=int(np.count_nonzero(~np.isnan(minutes))),
    )
