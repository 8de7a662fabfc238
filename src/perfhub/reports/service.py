"""The pilot report: its query checked, its rows read, its figures computed (docs/pilot.md).

``perfhub report pilot`` and ``GET /admin/reports/pilot`` both go through :func:`parse_query`
and :func:`build_report`; they differ only in how they name the options in their errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from perfhub.core.bounds import MAX_ID
from perfhub.core.dates import MAX_RANGE_DAYS, local_today, parse_date
from perfhub.core.errors import Unprocessable
from perfhub.plans.adherence import Figures, figures
from perfhub.plans.adherence_routes import read_facts
from perfhub.reports import queries
from perfhub.reports.pilot import Adherence, PilotReport, oauth_links, pilot_report
from perfhub.reports.timing import Athlete, Inputs
from perfhub.wearables.linking import LINK_ATTEMPTS_KEPT

DEFAULT_DAYS = 28
# The steps :func:`build_report` reports progress on.
STEPS = 4

# How each caller names the options: the query parameters, or the command's flags.
API_NAMES: Mapping[str, str] = {
    "from": "from",
    "to": "to",
    "team": "team",
    "baselineFrom": "baselineFrom",
    "baselineTo": "baselineTo",
}
CLI_NAMES: Mapping[str, str] = {
    "from": "--from",
    "to": "--to",
    "team": "--team",
    "baselineFrom": "--baseline-from",
    "baselineTo": "--baseline-to",
}


@dataclass(frozen=True)
class PilotQuery:
    start: date
    end: date
    team_id: int | None = None
    baseline: tuple[date, date] | None = None

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def _invalid(name: str, detail: str, msg: str) -> Unprocessable:
    return Unprocessable(detail, [{"loc": ["query", name], "msg": msg}])


def parse_team(raw: str | None, names: Mapping[str, str] = CLI_NAMES) -> int | None:
    """A team id given as text (the command line's)."""
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        name = names["team"]
        detail = f"{name} must be a team's id (a whole number from 1), got {raw[:40]!r}"
        raise _invalid(name, detail, "not an id")
    return int(raw)


def _span(
    raw_from: str | None, raw_to: str | None, names: tuple[str, str], today: date, default_end: date
) -> tuple[date, date]:
    first, last = names
    end = parse_date(raw_to, last) if raw_to else default_end
    start = parse_date(raw_from, first) if raw_from else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise _invalid(first, f"{first} ({start}) is after {last} ({end})", f"after {last}")
    if end > today:
        detail = f"{last} ({end}) is in the future: the latest day is today, {today}"
        raise _invalid(last, detail, "in the future")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise _invalid(last, f"{first}..{last} may span at most {MAX_RANGE_DAYS} days", "too long")
    return start, end


def parse_query(
    raw_from: str | None,
    raw_to: str | None,
    team_id: int | None,
    raw_baseline_from: str | None,
    raw_baseline_to: str | None,
    *,
    today: date,
    names: Mapping[str, str] = API_NAMES,
) -> PilotQuery:
    """The period (default: the 28 days to yesterday) and the baseline period, if any. ``today``
    is the UTC date: a day after it has not begun anywhere but east of UTC."""
    start, end = _span(raw_from, raw_to, (names["from"], names["to"]), today, today - timedelta(days=1))
    baseline = None
    first, last = names["baselineFrom"], names["baselineTo"]
    if (raw_baseline_from is None) != (raw_baseline_to is None):
        missing = last if raw_baseline_to is None else first
        raise _invalid(missing, f"give {first} and {last} together", "missing")
    if raw_baseline_from is not None and raw_baseline_to is not None:
        baseline = _span(raw_baseline_from, raw_baseline_to, (first, last), today, today)
        if baseline[0] <= end and start <= baseline[1]:
            raise _invalid(
                first,
                f"the baseline ({baseline[0]}..{baseline[1]}) overlaps the period ({start}..{end})",
                "overlaps the period",
            )
    return PilotQuery(start, end, team_id, baseline)


def _utc_bounds(query: PilotQuery) -> tuple[datetime, datetime]:
    """The period as instants, for what is not dated by an athlete's calendar (links, dead letters)."""
    start = datetime.combine(query.start, time(0), tzinfo=UTC)
    return start, datetime.combine(query.end + timedelta(days=1), time(0), tzinfo=UTC)


def _adherence(session: Session, people: list[Athlete], query: PilotQuery, now: datetime) -> Adherence:
    todays = {athlete.id: local_today(athlete.tz, now) for athlete in people}

    def tally(start: date, end: date) -> Figures:
        facts, logged = read_facts(session, list(todays), start, end)
        return figures(facts, logged, todays, start, end)[0]

    period = tally(query.start, query.end)
    baseline = tally(*query.baseline) if query.baseline is not None else None
    return Adherence(period, baseline, query.baseline)


def check_team(session: Session, query: PilotQuery) -> None:
    """NotFound for a team that does not exist: before any work is shown as begun."""
    if query.team_id is not None:
        queries.team_of(session, query.team_id)


def build_report(
    session: Session, query: PilotQuery, now: datetime, progress: Callable[[], None] | None = None
) -> PilotReport:
    """Read and compute the report (NotFound for an unknown team). ``progress`` is called after
    each of :data:`STEPS` steps."""

    def step() -> None:
        if progress is not None:
            progress()

    team = queries.team_of(session, query.team_id) if query.team_id is not None else None
    people = queries.athletes(session, query.team_id, query.start, query.end)
    inputs = Inputs(
        days=query.days(),
        athletes=people,
        links=queries.link_spans(session, query.team_id),
        readings=queries.readings(session, query.team_id, query.start, query.end),
        snapshots=queries.snapshots(session, query.team_id, query.start, query.end),
        announcements=queries.announcements(session, query.team_id, query.start, query.end),
    )
    step()
    adherence = _adherence(session, people, query, now)
    step()
    start_at, end_at = _utc_bounds(query)
    linked, attempts = queries.link_history(session, query.team_id)
    oauth = oauth_links(linked, attempts, start_at, end_at, now, now - LINK_ATTEMPTS_KEPT)
    letters = queries.dead_letters(session, query.team_id, start_at, end_at)
    step()
    report = pilot_report(
        inputs,
        start=query.start,
        end=query.end,
        team=team,
        adherence=adherence,
        oauth=oauth,
        dead_letters=letters,
        now=now,
    )
    step()
    return report
