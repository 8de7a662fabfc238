"""The token pager every vendor client lists through: each item once, and a malformed or looping
listing refused instead of followed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from perfhub.readings.mapping import MappingError
from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.errors import VendorError
from perfhub.wearables.vendors.http import ApiClient

CONFIG = VendorConfig(
    name="example",
    authorize_url="https://vendor.example/authorize",
    token_url="https://vendor.example/token",
    api_base="https://vendor.example",
    scopes=("read",),
    uses_pkce=False,
    client_id="id",
    client_secret="secret",
)


def client_over(pages: dict[str | None, Any], asked: list[dict[str, str]]) -> ApiClient:
    """A client whose GET /things answers ``pages[token]`` for the ``cursor`` query parameter."""

    def answer(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        asked.append(query)
        return httpx.Response(200, content=json.dumps(pages[query.get("cursor")]))

    return ApiClient(httpx.Client(transport=httpx.MockTransport(answer)), "token", CONFIG)


def listing(client: ApiClient, *, empty_omitted: bool = False) -> Iterator[dict[str, Any]]:
    return client._pages(
        "/things",
        {"since": "2026-11-01"},
        what="example things",
        items="items",
        next_token="next",
        token_param="cursor",
        key_of=lambda item: item.get("id"),
        empty_omitted=empty_omitted,
    )


def test_items_come_once_across_pages_and_the_query_is_kept() -> None:
    asked: list[dict[str, str]] = []
    pages = {
        None: {"items": [{"id": "a"}, {"id": "b"}], "next": "p2"},
        # Data changed while paging: "b" shows up again on the next page.
        "p2": {"items": [{"id": "b"}, {"id": "c"}, {"note": "no id: never a repeat"}], "next": None},
    }
    items = list(listing(client_over(pages, asked)))
    assert items == [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"note": "no id: never a repeat"}]
    assert asked == [{"since": "2026-11-01"}, {"since": "2026-11-01", "cursor": "p2"}]


def test_a_repeated_token_is_refused_not_followed_forever() -> None:
    pages = {None: {"items": [{"id": "a"}], "next": "p2"}, "p2": {"items": [{"id": "b"}], "next": "p2"}}
    with pytest.raises(VendorError, match="example things paging repeats a next"):
        list(listing(client_over(pages, [])))


@pytest.mark.parametrize(
    ("page", "error", "message"),
    [
        ({"next": None}, VendorError, "example things page without a items list"),
        ({"items": {"id": "a"}}, VendorError, "example things page without a items list"),
        ({"items": ["a"]}, VendorError, "example things page holds a non-object"),
        (["a"], MappingError, "example things page: expected an object"),
    ],
)
def test_malformed_pages_are_refused(page: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        list(listing(client_over({None: page}, [])))


def test_a_vendor_that_omits_empty_lists_lists_nothing() -> None:
    assert list(listing(client_over({None: {}}, []), empty_omitted=True)) == []
