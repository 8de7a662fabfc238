"""The navigation each role sees. Pages added by later features register here, in one place.

An athlete's navigation must fit a 390 px phone in two rows (tested in Chromium in
tests/web/test_coach_pages.py and tests/web/test_browser_plan.py). With Plan (#14) there are nine
items, which fit two rows only when the first row is nearly as long as the second: the order
below puts Sleep's nudges and the profile in the first row and HRV, Connections, Sharing and
Account in the second. In the test's Chromium the longer row ends 2 px short of the 382 px it
may use (the current page's item is bold, so the margin depends on the page): fonts wider than
the test's would wrap it into a third row. More room needs a change of layout (the links'
padding in app.css), not of order. The access log is not an item of its own: it is one of the two tabs of
Sharing ("who sees what" and "who looked"). Everyone has an Account page (their export and
erasure).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str


_BY_ROLE: dict[str, tuple[NavItem, ...]] = {
    "athlete": (
        NavItem("Today", "/today"),
        NavItem("Plan", "/plan"),
        NavItem("Sleep", "/sleep"),
        NavItem("Nudges", "/nudges"),
        NavItem("Profile", "/profile"),
        NavItem("HRV", "/hrv"),
        NavItem("Connections", "/connections"),
        NavItem("Sharing", "/sharing"),
        NavItem("Account", "/account"),
    ),
    "coach": (
        NavItem("Teams", "/teams"),
        NavItem("Profile", "/profile"),
        NavItem("Account", "/account"),
    ),
    "admin": (
        NavItem("Overview", "/admin"),
        NavItem("Teams", "/teams"),
        NavItem("Profile", "/profile"),
        NavItem("Account", "/account"),
    ),
}

HOME_BY_ROLE = {role: items[0].path for role, items in _BY_ROLE.items()}


def navigation_for(role: str) -> list[NavItem]:
    return list(_BY_ROLE.get(role, ()))


def home_for(role: str) -> str:
    return HOME_BY_ROLE.get(role, "/profile")
