"""OAuth2 with PKCE (RFC 6749, RFC 7636): authorization URLs, code exchange, refresh with rotation.

Nothing here logs or formats an access token, refresh token, authorization code or client secret.
"""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from perfhub.wearables.vendors.config import VendorConfig
from perfhub.wearables.vendors.errors import InvalidGrant, VendorError
from perfhub.wearables.vendors.http import DEFAULT_RETRY, RetryPolicy, error_code, json_body, send

MIN_STATE_LENGTH = 8  # WHOOP rejects shorter states; a shorter state is too guessable anyway


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None  # Unix seconds; None when the vendor did not say
    scope: str | None = None

    def expires_soon(self, now: float, leeway_s: float = 60.0) -> bool:
        return self.expires_at is not None and now >= self.expires_at - leeway_s

    def to_dict(self) -> dict[str, Any]:
        """For the caller's encrypted storage; never log the result."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "scope": self.scope,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenSet:
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token"),
            expires_at=data.get("expires_at"),
            scope=data.get("scope"),
        )


def new_code_verifier() -> str:
    """RFC 7636 §4.1: 43–128 characters from the unreserved set; 64 random bytes give 86."""
    return secrets.token_urlsafe(64)


def code_challenge_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_pkce_pair() -> tuple[str, str]:
    """(code_verifier, code_challenge): keep the verifier with the OAuth state, send the challenge."""
    verifier = new_code_verifier()
    return verifier, code_challenge_s256(verifier)


def authorization_url(
    config: VendorConfig, state: str, redirect_uri: str, code_challenge: str | None = None
) -> str:
    if len(state) < MIN_STATE_LENGTH:
        raise ValueError(f"OAuth state must be at least {MIN_STATE_LENGTH} characters")
    params: dict[str, str] = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(config.scopes),
        "state": state,
        **config.extra_authorize_params,
    }
    if code_challenge is not None:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    separator = "&" if urlsplit(config.authorize_url).query else "?"
    return config.authorize_url + separator + urlencode(params)


def _token_request(
    http: httpx.Client, config: VendorConfig, form: dict[str, str], policy: RetryPolicy, now: float | None
) -> tuple[TokenSet, bool]:
    """POST the grant; returns the tokens and whether the response carried a refresh token."""
    form = {**form, "client_id": config.client_id, "client_secret": config.client_secret}
    response = send(
        http,
        "POST",
        config.token_url,
        policy=policy,
        idempotent=False,
        data=form,
        headers={"Accept": "application/json"},
    )
    what = f"{config.name} token ({form['grant_type']})"
    if response.status_code >= 400:
        code = error_code(response)
        if code == "invalid_grant":
            raise InvalidGrant(f"{what}: invalid_grant", status_code=response.status_code)
        raise VendorError(
            f"{what}: HTTP {response.status_code}" + (f" ({code})" if code else ""),
            status_code=response.status_code,
        )
    body = json_body(response, what)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("access_token"), str)
        or not body["access_token"]
    ):
        raise VendorError(f"{what}: no access_token in the response", status_code=response.status_code)
    token_type = body.get("token_type")
    if token_type is not None and str(token_type).lower() != "bearer":
        raise VendorError(f"{what}: unexpected token_type {token_type!r}")
    expires_at: float | None = None
    expires_in = body.get("expires_in")
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and math.isfinite(expires_in):
        expires_at = (time.time() if now is None else now) + float(expires_in)
    refresh_token = body.get("refresh_token")
    has_refresh = isinstance(refresh_token, str) and bool(refresh_token)
    scope = body.get("scope")
    tokens = TokenSet(
        access_token=body["access_token"],
        refresh_token=refresh_token if has_refresh else None,
        expires_at=expires_at,
        scope=scope if isinstance(scope, str) else None,
    )
    return tokens, has_refresh


def exchange_code(
    http: httpx.Client,
    config: VendorConfig,
    code: str,
    redirect_uri: str,
    code_verifier: str | None = None,
    *,
    policy: RetryPolicy = DEFAULT_RETRY,
    now: float | None = None,
) -> TokenSet:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    tokens, _ = _token_request(http, config, form, policy, now)
    return tokens


def refresh(
    http: httpx.Client,
    config: VendorConfig,
    token: TokenSet,
    *,
    policy: RetryPolicy = DEFAULT_RETRY,
    now: float | None = None,
) -> TokenSet:
    """Refresh the access token. Store the result at once: with rotation the old refresh token is dead.

    A vendor that does not rotate (Google) sends no new refresh token; the old one is kept then.
    """
    if not token.refresh_token:
        raise InvalidGrant(f"{config.name}: no refresh token stored; the athlete must relink")
    form = {"grant_type": "refresh_token", "refresh_token": token.refresh_token}
    if config.refresh_scope:
        form["scope"] = config.refresh_scope
    fresh, rotated = _token_request(http, config, form, policy, now)
    if rotated:
        return fresh
    return TokenSet(
        access_token=fresh.access_token,
        refresh_token=token.refresh_token,
        expires_at=fresh.expires_at,
        scope=fresh.scope or token.scope,
    )
