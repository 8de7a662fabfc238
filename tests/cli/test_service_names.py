"""Each process names its role in traces and in NATS (``service.name``), unless told otherwise."""

from __future__ import annotations

from perfhub.cli.ops import for_role
from perfhub.settings import Settings


def test_each_role_has_its_own_service_name() -> None:
    base = Settings(database_url="sqlite://")
    assert for_role(base, "insights").service_name == "perfhub-insights"
    assert for_role(base, "api").service_name == "perfhub-api"
    assert for_role(base, None).service_name == "perfhub"  # the all-in-one process


def test_a_name_set_by_the_operator_is_kept() -> None:
    named = Settings(database_url="sqlite://", service_name="club-perfhub")
    assert for_role(named, "normalize").service_name == "club-perfhub"
