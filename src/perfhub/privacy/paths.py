"""The path of a read, in words an athlete understands: what the access log says was looked at.

An audit row records the concrete path a read came through (``/api/v1/teams/3/readiness``);
``GET /audit`` shows it as "your team's readiness table (/api/v1/teams/3/readiness)". The table
below names every route that can read an athlete's data, in the API and in the web pages, with
``{id}`` standing for any numeric id; a path it does not know still gets a sentence (the
fallbacks at the end), so a new route is never shown as nothing. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PATH_WORDS", "describe_path", "words_for_path"]

API = "/api/v1"

# (path template, words). Order matters only where one template is a prefix-free rewrite of
# another; every template is matched whole.
PATH_WORDS: Sequence[tuple[str, str]] = (
    # The API: per-athlete reads (a coach or an admin adds ?userId=).
    (f"{API}/hrv/daily", "your HRV and resting HR"),
    (f"{API}/sleep/summary", "your sleep"),
    (f"{API}/sleep/debt", "your sleep debt"),
    (f"{API}/readiness/today", "your readiness today"),
    (f"{API}/readiness", "your readiness history"),
    (f"{API}/alerts", "your nudges"),
    # The API: team reads (one row per athlete, or one athlete's days).
    (f"{API}/teams/{{id}}/readiness", "your team's readiness table"),
    (f"{API}/teams/{{id}}/readiness.csv", "your team's readiness table, downloaded as CSV"),
    (f"{API}/teams/{{id}}/athletes/{{id}}/trend", "your trend"),
    (f"{API}/teams/{{id}}", "your team's member list"),
    (f"{API}/teams/{{id}}/adherence", "your team's plan adherence"),
    (f"{API}/insights/weekly", "your weekly summary"),
    (f"{API}/teams/{{id}}/insights/weekly", "your team's weekly summary"),
    # The API: plans and training (a coach plans, decides and reads for an athlete of theirs).
    (f"{API}/plan/sessions", "your planned sessions"),
    (f"{API}/plan/sessions/{{id}}", "one of your planned sessions"),
    (f"{API}/plan/sessions/{{id}}/adjustment", "the adjustment of one of your sessions"),
    (f"{API}/plan/sessions/{{id}}/adjustment/accept", "the adjustment of one of your sessions, accepting it"),
    (f"{API}/plan/sessions/{{id}}/adjustment/revert", "the adjustment of one of your sessions, reverting it"),
    (f"{API}/plan/sessions/{{id}}/complete", "one of your sessions, marking it done"),
    (f"{API}/plan/adherence", "your plan adherence"),
    (f"{API}/training/sessions", "your completed sessions"),
    (f"{API}/training/load", "your training load"),
    # The API: the caller's own data (never read by anyone else; listed so every path has words).
    (f"{API}/alerts/preferences", "your nudge settings"),
    (f"{API}/me", "your profile"),
    (f"{API}/me/export", "your data export"),
    (f"{API}/connections", "your linked wearables"),
    (f"{API}/sharing", "your sharing settings"),
    (f"{API}/sharing/{{id}}", "your sharing settings"),
    (f"{API}/audit", "your access log"),
    # The web pages (?userId= opens an athlete's page for a coach who is shared it).
    ("/today", "your today page"),
    ("/sleep", "your sleep page"),
    ("/hrv", "your HRV page"),
    ("/nudges", "your nudges page"),
    ("/nudges/preferences", "your nudge settings page"),
    ("/profile", "your profile page"),
    ("/connections", "your connections page"),
    ("/sharing", "your sharing page"),
    ("/access-log", "your access log page"),
    ("/account", "your account page"),
    ("/account/export", "your data export"),
    ("/account/delete", "your account, erasing it"),
    ("/teams/{id}", "your team's readiness page"),
    ("/teams/{id}/readiness.csv", "your team's readiness table, downloaded as CSV"),
    ("/teams/{id}/athletes/{id}", "your trend page"),
    ("/teams/{id}/athletes/{id}/trend", "your trend page"),
    ("/week", "your weekly summary page"),
    ("/teams/{id}/week", "your team's weekly summary page"),
    ("/plan", "your plan page"),
    ("/plan/sessions/{id}/accept", "your plan page, accepting an adjustment"),
    ("/plan/sessions/{id}/revert", "your plan page, reverting an adjustment"),
    ("/plan/sessions/{id}/complete", "your plan page, marking a session done"),
    ("/plan/unplanned", "your plan page, logging a session"),
    ("/teams/{id}/athletes/{id}/plan", "your plan page"),
    ("/teams/{id}/athletes/{id}/plan/sessions/{id}/accept", "your plan page, accepting an adjustment"),
    ("/teams/{id}/athletes/{id}/plan/sessions/{id}/revert", "your plan page, reverting an adjustment"),
    ("/teams/{id}/adherence", "your team's adherence page"),
)

# When no template matches: the most specific of these prefixes that does.
_FALLBACKS: Sequence[tuple[str, str]] = (
    (f"{API}/teams/", "a team view in the API"),
    (f"{API}/", "the API"),
    ("/teams/", "a team page"),
)
_FALLBACK = "a page"


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    words: str


def _compile(template: str, words: str) -> _Pattern:
    parts = template.split("{id}")
    return _Pattern(re.compile("[1-9][0-9]*".join(re.escape(part) for part in parts)), words)


_PATTERNS = tuple(_compile(template, words) for template, words in PATH_WORDS)


def words_for_path(path: str) -> str:
    """What ``path`` reads, in words ("your sleep page"); a fallback for a path not in the table."""
    trimmed = path.rstrip("/") or "/"
    for pattern in _PATTERNS:
        if pattern.regex.fullmatch(trimmed):
            return pattern.words
    for prefix, words in _FALLBACKS:
        if trimmed.startswith(prefix):
            return words
    return _FALLBACK


def describe_path(path: str) -> str:
    """The words and the path itself: "your HRV and resting HR (/api/v1/hrv/daily)"."""
    return f"{words_for_path(path)} ({path})"
