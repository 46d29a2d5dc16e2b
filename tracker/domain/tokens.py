"""Secret tokens: 32 random bytes, url-safe, shown once; only their SHA-256 is stored.

A fast hash is right here: the tokens carry 256 bits of entropy, so there is nothing to
brute-force, and every request must check one.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32
#: Every kind of token has its prefix here, so that the log redaction (``tracker.logs``) knows it.
TOKEN_PREFIXES = ("org_", "phy_", "cal_", "sil_", "clm_")
#: A physician's read-only calendar feed key: stored as it is (shown again on their page),
#: it opens their personal feed and nothing else (see README, "The personal calendar feed").
FEED_PREFIX = "cal_"


def new_token(prefix: str) -> str:
    """A fresh token; the prefix (``org_``, ``phy_``, ``cal_``) tells a reader which kind leaked."""
    if prefix not in TOKEN_PREFIXES:
        raise ValueError(f"unknown token prefix {prefix!r}: add it to TOKEN_PREFIXES")
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
