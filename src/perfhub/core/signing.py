"""Ed25519 signatures over bus message bodies, with key ids so keys can rotate."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from perfhub.settings import Settings

KEY_ID_HEADER = "Perfhub-Key-Id"
SIGNATURE_HEADER = "Perfhub-Signature"


class SignatureInvalid(Exception):
    """A message without a valid signature from a known key."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def public_key_b64(key: Ed25519PrivateKey) -> str:
    return _b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def generate_key() -> tuple[str, str]:
    """A new (private, public) pair, both base64 raw bytes — for ``perfhub keys`` and operators."""
    key = Ed25519PrivateKey.generate()
    return _b64(key.private_bytes_raw()), public_key_b64(key)


@dataclass(frozen=True)
class Signer:
    key_id: str
    private: Ed25519PrivateKey
    public: Mapping[str, Ed25519PublicKey]

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer:
        private: dict[str, Ed25519PrivateKey] = {}
        for key_id, secret in settings.signing_keys.items():
            private[key_id] = Ed25519PrivateKey.from_private_bytes(
                base64.b64decode(secret.get_secret_value())
            )
        if not private:
            seed = HKDF(hashes.SHA256(), 32, salt=b"perfhub-bus-signing", info=b"ed25519").derive(
                settings.resolved_secret_key().encode()
            )
            key = Ed25519PrivateKey.from_private_bytes(seed)
            key_id = "default-" + hashlib.sha256(public_key_b64(key).encode()).hexdigest()[:8]
            private[key_id] = key
        active = settings.signing_key_id or next(iter(private))
        if active not in private:
            raise ValueError(f"signing_key_id {active!r} is not among signing_keys")
        public: dict[str, Ed25519PublicKey] = {kid: key.public_key() for kid, key in private.items()}
        for key_id, raw in settings.verify_keys.items():
            public[key_id] = Ed25519PublicKey.from_public_bytes(base64.b64decode(raw))
        return cls(active, private[active], public)

    def sign(self, body: bytes) -> dict[str, str]:
        return {KEY_ID_HEADER: self.key_id, SIGNATURE_HEADER: _b64(self.private.sign(body))}

    def verify(self, headers: Mapping[str, str] | None, body: bytes) -> str:
        """The key id that signed ``body``, or :class:`SignatureInvalid`."""
        headers = headers or {}
        key_id, signature = headers.get(KEY_ID_HEADER), headers.get(SIGNATURE_HEADER)
        if not key_id or not signature:
            raise SignatureInvalid("message is not signed")
        key = self.public.get(key_id)
        if key is None:
            raise SignatureInvalid(f"unknown signing key {key_id!r}")
        try:
            key.verify(base64.b64decode(signature, validate=True), body)
        except (InvalidSignature, ValueError) as exc:
            raise SignatureInvalid(f"bad signature for key {key_id!r}") from exc
        return key_id
