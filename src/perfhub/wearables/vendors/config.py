"""A vendor's OAuth and API endpoints as one immutable value (built by ``adapter.VendorAdapter.config``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class VendorConfig:
    name: str
    authorize_url: str
    token_url: str
    api_base: str
    scopes: tuple[str, ...]
    uses_pkce: bool
    client_id: str
    client_secret: str = field(repr=False)
    # Vendor-specific extras: Google needs access_type=offline to hand out a refresh token at all.
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    # WHOOP wants scope=offline on a refresh or it issues no new refresh token.
    refresh_scope: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def url(self, path: str) -> str:
        return self.api_base.rstrip("/") + "/" + path.lstrip("/")
