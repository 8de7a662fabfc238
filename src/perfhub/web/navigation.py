"""The navigation each role sees. Pages added by later features register here, in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str


_BY_ROLE: dict[str, tuple[NavItem, ...]] = {
    "athlete": (
        NavItem("Today", "/today"),
        NavItem("Sleep", "/sleep"),
        NavItem("HRV", "/hrv"),
        NavItem("Nudges", "/nudges"),
        NavItem("Connections", "/connections"),
        NavItem("Profile", "/profile"),
    ),
    "coach": (
        NavItem("Teams", "/teams"),
        NavItem("Profile", "/profile"),
    ),
    "admin": (
        NavItem("Overview", "/admin"),
        NavItem("Teams", "/teams"),
        NavItem("Profile", "/profile"),
    ),
}

HOME_BY_ROLE = {role: items[0].path for role, items in _BY_ROLE.items()}


def navigation_for(role: str) -> list[NavItem]:
    return list(_BY_ROLE.get(role, ()))


def home_for(role: str) -> str:
    return HOME_BY_ROLE.get(role, "/profile")
