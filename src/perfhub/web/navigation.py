"""The navigation each role sees. Pages added by later features register here, in one place.

An athlete's navigation must fit a 390 px phone in two rows (tested in Chromium in
tests/web/test_coach_pages.py and tests/web/test_browser_plan.py): with Plan (#14) there are nine
items, in the order of the day (today, the plan, the night's sleep and HRV, then settings), and
on a narrow screen the links' padding shrinks (app.css) so that they wrap into two rows. The
access log is not an item of its own: it is one of the two tabs of Sharing ("who sees what" and
"who looked"). Everyone has an Account page (their export and
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
        NavItem("HRV", "/hrv"),
        NavItem("Nudges", "/nudges"),
        NavItem("Connections", "/connections"),
        NavItem("Sharing", "/sharing"),
        NavItem("Profile", "/profile"),
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
