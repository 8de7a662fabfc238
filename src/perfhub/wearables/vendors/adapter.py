"""The one interface every linkable vendor implements, and the generic parts they share.

A vendor is a :class:`VendorAdapter` subclass (``OuraAdapter``, ``WhoopAdapter``,
``GoogleAdapter``) registered once in ``registry.py``; everything that differs between vendors —
endpoints and scopes, signing, record shapes, how a range is polled — is answered by its adapter,
so callers never branch on a vendor's name. The pure mapping each adapter exposes
(``map_records``, ``source_id``, ``deletions_for_event``) stays in the vendor's own ``mapping``
module, importable without any HTTP or settings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

import httpx

from perfhub.readings.mapping import Deletion, Mapped
from perfhub.wearables.vendors import oauth
from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.http import DEFAULT_RETRY, ApiClient, RetryPolicy
from perfhub.wearables.vendors.oauth import TokenSet
from perfhub.wearables.vendors.records import WebhookEvent

Record = tuple[str, dict[str, Any]]  # (vendor record kind, the record as the vendor sent it)


@dataclass(frozen=True)
class VendorDefaults:
    """What a vendor's configuration is unless settings say otherwise (the documented production values)."""

    authorize_url: str
    token_url: str
    api_base: str
    scopes: tuple[str, ...]
    uses_pkce: bool
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    refresh_scope: str | None = None


class VendorAdapter(ABC):
    """One linkable vendor: configuration, OAuth, webhooks, fetching and the pure mapping."""

    name: ClassVar[str]  # the vendor's id in URLs, settings (``PERFHUB_<NAME>_…``) and canonical rows
    display_name: ClassVar[str]  # how athletes know it
    defaults: ClassVar[VendorDefaults]
    client_class: ClassVar[type[ApiClient]]
    # Whether the vendor names its account holder: only then can a second link of one account be told.
    names_account: ClassVar[bool] = True
    # Whether the vendor gives the instant a night was captured. Without one (a date only) the
    # row's capturedAt is a stand-in, and no ingest lag can be timed from it.
    captures_instants: ClassVar[bool] = True
    # Whether DELETE /connections/{vendor} can revoke our access at the vendor itself.
    revocable: ClassVar[bool] = False
    # Whether the vendor verifies the webhook URL with a GET handshake before delivering to it.
    has_handshake: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"

    # ------------------------------------------------------------------ configuration

    def config(
        self,
        client_id: str,
        client_secret: str,
        *,
        authorize_url: str | None = None,
        token_url: str | None = None,
        api_base: str | None = None,
        scopes: tuple[str, ...] | None = None,
        uses_pkce: bool | None = None,
    ) -> VendorConfig:
        """The vendor's configuration: the declared defaults, with whatever is given instead."""
        defaults = self.defaults
        return VendorConfig(
            name=self.name,
            authorize_url=authorize_url or defaults.authorize_url,
            token_url=token_url or defaults.token_url,
            api_base=api_base or defaults.api_base,
            scopes=tuple(scopes or defaults.scopes),
            uses_pkce=defaults.uses_pkce if uses_pkce is None else uses_pkce,
            client_id=client_id,
            client_secret=client_secret,
            extra_authorize_params=dict(defaults.extra_authorize_params),
            refresh_scope=defaults.refresh_scope,
        )

    def config_from_settings(self, settings: Any) -> VendorConfig | None:
        """From ``<name>_client_id``, ``_client_secret``, ``_authorize_url``, ``_token_url`` and
        ``_api_base`` in ``settings``; None while no client id (or no secret) is set."""
        client_id = getattr(settings, f"{self.name}_client_id", None)
        secret = getattr(settings, f"{self.name}_client_secret", None)
        if not client_id or secret is None:
            return None
        return self.config(
            client_id,
            secret.get_secret_value(),
            authorize_url=getattr(settings, f"{self.name}_authorize_url", None),
            token_url=getattr(settings, f"{self.name}_token_url", None),
            api_base=getattr(settings, f"{self.name}_api_base", None),
        )

    # ------------------------------------------------------------------ OAuth

    def authorization_url(
        self, config: VendorConfig, state: str, redirect_uri: str, code_challenge: str | None = None
    ) -> str:
        return oauth.authorization_url(config, state, redirect_uri, code_challenge)

    def exchange(
        self,
        http: httpx.Client,
        config: VendorConfig,
        code: str,
        redirect_uri: str,
        code_verifier: str | None = None,
        *,
        policy: RetryPolicy = DEFAULT_RETRY,
    ) -> TokenSet:
        return oauth.exchange_code(http, config, code, redirect_uri, code_verifier, policy=policy)

    def refresh(
        self,
        http: httpx.Client,
        config: VendorConfig,
        token: TokenSet,
        *,
        policy: RetryPolicy = DEFAULT_RETRY,
    ) -> TokenSet:
        return oauth.refresh(http, config, token, policy=policy)

    def client(
        self, http: httpx.Client, token: str, config: VendorConfig, *, policy: RetryPolicy = DEFAULT_RETRY
    ) -> ApiClient:
        return self.client_class(http, token, config, policy=policy)

    def vendor_user_id(self, client: ApiClient) -> str | None:
        """The id the vendor's webhooks name the athlete by, read right after linking; None for a
        vendor that names nobody (:attr:`names_account` false)."""
        return None

    def revoke(self, client: ApiClient) -> None:
        """Revoke our access at the vendor; only called when :attr:`revocable`."""
        raise NotImplementedError(f"{self.name} access cannot be revoked at the vendor")

    # ------------------------------------------------------------------ webhooks

    @abstractmethod
    def verify_webhook(
        self, headers: Mapping[str, str], raw_body: bytes, secret: str, now: float, tolerance_s: int = 300
    ) -> None:
        """Raise ``SignatureError`` unless the delivery is authentic and fresh."""

    @abstractmethod
    def parse_webhook(self, payload: Any) -> WebhookEvent:
        """The verified delivery as an event; ``MappingError`` when it cannot be read."""

    def answer_handshake(self, query: Mapping[str, str], settings: Any) -> dict[str, str] | None:
        """The answer to the vendor's subscription handshake, or None (answer 401); only called
        when :attr:`has_handshake`."""
        return None

    @abstractmethod
    def deletions_for_event(self, event: WebhookEvent) -> list[Deletion]:
        """The canonical rows a ``deleted`` notification takes away."""

    # ------------------------------------------------------------------ fetching

    @abstractmethod
    def fetch_for_event(self, client: ApiClient, event: WebhookEvent) -> list[Record]:
        """The records an ``updated`` notification names; ``RecordNotFound`` when gone since."""

    @abstractmethod
    def fetch_range(self, client: ApiClient, start: date, end: date) -> list[Record]:
        """Every record of the wake dates ``start..end`` (both inclusive) that canonical rows come from."""

    # ------------------------------------------------------------------ pure mapping

    @abstractmethod
    def map_records(self, kind: str, record: Any, tz_fallback: str) -> list[Mapped]:
        """Canonical ("hrv" | "sleep", payload) pairs, ``Deletion`` markers or ``Refused`` parts."""

    @abstractmethod
    def source_id(self, kind: str, record: Mapping[str, Any]) -> str | None:
        """The vendor id a later ``Deletion`` will name; kept with the landed raw event."""
