"""The simulator's token signing keys, published as a JWKS and rotatable."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(uuid.uuid4().hex, rsa.generate_private_key(65537, 2048))

    def jwk(self) -> dict[str, Any]:
        public: dict[str, Any] = json.loads(
            RSAAlgorithm.to_jwk(self.private_key.public_key())
        )
        return public | {"kid": self.kid, "use": "sig", "alg": "RS256"}


@dataclass
class KeyRing:
    """The newest key signs; older ones stay published so their tokens still verify."""

    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.generate()])

    def sign(self, claims: dict[str, Any]) -> str:
        key = self.keys[-1]
        return jwt.encode(claims, key.private_key, "RS256", headers={"kid": key.kid})

    def rotate(self) -> None:
        self.keys.append(SigningKey.generate())
        del self.keys[:-2]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self.keys]}

    def verify(self, token: str, audience: str, issuer: str) -> dict[str, Any]:
        kid = jwt.get_unverified_header(token).get("kid")
        key = next(k for k in self.keys if k.kid == kid)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.private_key.public_key(),
            algorithms=["RS256"],
            audience=audience,
            issuer=issuer,
        )
        return claims
