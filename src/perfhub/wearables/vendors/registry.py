"""The vendors perfhub links to, their configuration from settings, and the shared HTTP client."""

from __future__ import annotations

import threading
from types import ModuleType

import httpx

from perfhub.settings import Settings
from perfhub.wearables.vendors import google, oura, whoop
from perfhub.wearables.vendors.base import DEFAULT_RETRY, ApiClient, RetryPolicy, VendorConfig

MODULES: dict[str, ModuleType] = {"oura": oura, "whoop": whoop, "google": google}
CLIENTS: dict[str, type[ApiClient]] = {
    "oura": oura.OuraClient,
    "whoop": whoop.WhoopClient,
    "google": google.GoogleHealthClient,
}
_http: httpx.Client | None = None
_policy: RetryPolicy = DEFAULT_RETRY
_lock = threading.Lock()


def vendor_config(settings: Settings, vendor: str) -> VendorConfig | None:
    """The vendor's OAuth/API configuration, or None when no client id is set."""
    client_id = getattr(settings, f"{vendor}_client_id", None)
    secret = getattr(settings, f"{vendor}_client_secret", None)
    if vendor not in MODULES or not client_id or secret is None:
        return None
    config: VendorConfig = MODULES[vendor].config_from(
        client_id,
        secret.get_secret_value(),
        authorize_url=getattr(settings, f"{vendor}_authorize_url"),
        token_url=getattr(settings, f"{vendor}_token_url"),
        api_base=getattr(settings, f"{vendor}_api_base"),
    )
    return config


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
    return CLIENTS[vendor](http_client(), token, config, policy=policy or _policy)
