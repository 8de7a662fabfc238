"""The vendors perfhub links to, registered once; their configuration from settings; the shared HTTP client.

Everything that lists vendors (the path parameter of the connection and webhook routes, the CLI's
``--vendor``, display names, the demo data) derives the list from :data:`ADAPTERS`. The canonical
sources live in ``perfhub.readings`` (which knows nothing of wearables): every linkable vendor is
one of them, next to the sources no link feeds (Apple Health, manual entries).
"""

from __future__ import annotations

import threading

import httpx

from perfhub.readings.schemas import VENDORS as CANONICAL_SOURCES
from perfhub.settings import Settings
from perfhub.wearables.vendors import google, oura, whoop
from perfhub.wearables.vendors.adapter import VendorAdapter
from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.http import DEFAULT_RETRY, ApiClient, RetryPolicy

# In the order athletes see them (and the default source priority ranks them).
ADAPTERS: dict[str, VendorAdapter] = {a.name: a for a in (oura.ADAPTER, whoop.ADAPTER, google.ADAPTER)}
LINKABLE_VENDORS: tuple[str, ...] = tuple(ADAPTERS)
DISPLAY_NAMES: dict[str, str] = {name: a.display_name for name, a in ADAPTERS.items()}
# The vendors whose nights carry a date only: their capturedAt is the start of that date.
DATED_ONLY_VENDORS: frozenset[str] = frozenset(
    name for name, a in ADAPTERS.items() if not a.captures_instants
)

if not set(LINKABLE_VENDORS) <= set(CANONICAL_SOURCES):
    raise RuntimeError(f"linkable vendors {LINKABLE_VENDORS} are not all canonical sources")

_http: httpx.Client | None = None
_policy: RetryPolicy = DEFAULT_RETRY
_lock = threading.Lock()


def adapter(vendor: str) -> VendorAdapter:
    """The registered adapter of ``vendor``; ``KeyError`` for a name that is not linkable."""
    return ADAPTERS[vendor]


def vendor_list(separator: str = ", ", last: str = " or ") -> str:
    """The linkable vendors for a message: "oura, whoop or google"."""
    *init, final = LINKABLE_VENDORS
    return separator.join(init) + last + final if init else final


def vendor_config(settings: Settings, vendor: str) -> VendorConfig | None:
    """The vendor's OAuth/API configuration, or None when it is not linkable or no client id is set."""
    found = ADAPTERS.get(vendor)
    return found.config_from_settings(settings) if found is not None else None


def http_client() -> httpx.Client:
    """One pooled client for all vendor calls in this process."""
    global _http
    with _lock:
        if _http is None:
            _http = httpx.Client(timeout=httpx.Timeout(20.0, connect=5.0), follow_redirects=False)
        return _http


def use_http_client(client: httpx.Client | None) -> None:
    """Point vendor calls at another transport (tests use in-process fakes)."""
    global _http
    with _lock:
        _http = client


def use_retry_policy(policy: RetryPolicy | None) -> None:
    """Change how vendor calls retry (tests make the waits instant)."""
    global _policy
    _policy = policy or DEFAULT_RETRY


def retry_policy() -> RetryPolicy:
    """How vendor calls retry in this process (callers derive stricter variants from it)."""
    return _policy


def make_client(
    vendor: str, token: str, config: VendorConfig, policy: RetryPolicy | None = None
) -> ApiClient:
    """A data client for ``vendor`` over the shared HTTP client and (unless given) retry policy."""
    return ADAPTERS[vendor].client(http_client(), token, config, policy=policy or _policy)
