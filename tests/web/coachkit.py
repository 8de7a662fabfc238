"""Helpers for the coach and sharing pages' tests: a browser per person (its own cookie jar), a
team with history whose people can sign in, and the team table read back out of its HTML."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient
from tests.conftest import Harness
from tests.readiness.teamdata import Shape, Team, make_team
from tests.web.signin import HTML, PASSWORD, sign_in

from perfhub.auth.models import User
from perfhub.auth.passwords import set_password
from perfhub.core.db import session_scope

API = "/api/v1"
ALL = ("hrv", "sleep", "readiness", "training")
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


class Browser:
    """One person's browser: signed in with their password, following no redirect by itself."""

    def __init__(self, harness: Harness, email: str) -> None:
        self.client = TestClient(harness.client.app, follow_redirects=False)
        self.client.headers.update(HTML)
        answer = sign_in(self.client, email)
        assert answer.status_code == 303, answer.text

    def get(self, path: str, status: int = 200, **params: Any) -> str:
        answer = self.client.get(path, params=params or None)
        assert answer.status_code == status, (path, answer.status_code, answer.text[:2000])
        return answer.text

    def csrf(self, path: str) -> str:
        found = _CSRF.search(self.get(path))
        assert found is not None, f"no CSRF field on {path}"
        return found.group(1)

    def post(self, path: str, data: dict[str, Any] | Iterable[tuple[str, str]], *, from_page: str) -> Any:
        pairs = list(data.items()) if isinstance(data, dict) else list(data)
        form: dict[str, list[str]] = {}
        for name, value in [*pairs, ("csrf_token", self.csrf(from_page))]:
            form.setdefault(name, []).append(value)
        return self.client.post(path, data=form)


def can_sign_in(harness: Harness, *user_ids: int) -> None:
    with session_scope(harness.runtime.sessions) as session:
        for user_id in user_ids:
            user = session.get(User, user_id)
            assert user is not None
            set_password(session, user, PASSWORD)


def team_with_history(
    harness: Harness,
    shares: Sequence[Iterable[str]],
    *,
    names: Sequence[str],
    shapes: Sequence[Shape] | None = None,
    tzs: Sequence[str] | None = None,
    signing_in: Sequence[int] = (),
    with_history: Sequence[bool] | None = None,
) -> Team:
    """A coach and athletes with 40 nights each (``tests.readiness.teamdata``); the coach and the
    athletes at the positions ``signing_in`` get a password."""
    team = make_team(harness, shares, names=names, shapes=shapes, tzs=tzs, with_history=with_history)
    can_sign_in(harness, team.coach["id"], *(team.athletes[i]["id"] for i in signing_in))
    return team


def text_of(html: str) -> str:
    """The page's words, tags removed and spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@dataclass
class TableRow:
    athlete_id: int
    name: str
    texts: dict[str, str] = field(default_factory=dict)  # column → the cell's words
    labels: dict[str, str] = field(default_factory=dict)  # column → its aria-label
    classes: dict[str, str] = field(default_factory=dict)


@dataclass
class TableHeader:
    sort: str
    href: str
    aria_sort: str | None


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[TableRow] = []
        self.headers: list[TableHeader] = []
        self.in_table = False
        self.column: str | None = None
        self.text: list[str] = []
        self.header: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and found.get("id") == "team-table":
            self.in_table = True
        if not self.in_table:
            return
        if tag == "th" and "data-sort" in found:
            self.header = {"sort": found["data-sort"], "aria": found.get("aria-sort"), "href": None}
        elif tag == "a" and self.header is not None and self.header["href"] is None:
            self.header["href"] = found.get("href")
        elif tag == "tr" and "data-athlete-id" in found:
            self.rows.append(TableRow(int(found["data-athlete-id"] or 0), ""))
        elif tag in ("td", "th") and "data-column" in found and self.rows:
            self.column = found["data-column"]
            self.text = []
            row = self.rows[-1]
            row.labels[self.column or ""] = found.get("aria-label") or ""
            row.classes[self.column or ""] = found.get("class") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.in_table:
            self.in_table = False
        if tag == "th" and self.header is not None:
            self.headers.append(
                TableHeader(str(self.header["sort"]), unescape(str(self.header["href"])), self.header["aria"])
            )
            self.header = None
        if tag in ("td", "th") and self.column is not None:
            words = " ".join("".join(self.text).split())
            row = self.rows[-1]
            row.texts[self.column] = words
            if self.column == "athlete":
                row.name = words
            self.column = None

    def handle_data(self, data: str) -> None:
        if self.column is not None:
            self.text.append(data + " ")


def team_table(html: str) -> tuple[list[TableHeader], list[TableRow]]:
    parser = _TableParser()
    parser.feed(html)
    return parser.headers, parser.rows


def link(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}" href="([^"]+)"', html)
    assert found is not None, f"no link #{element_id}"
    return unescape(found.group(1))
