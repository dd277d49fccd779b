"""The only package that touches cryptographic primitives."""

from lendshield.crypto.digests import constant_time_equal, keyed_digest, random_token, sha256_hex, token_digest
from lendshield.crypto.envelope import FieldCipher, new_data_key, unwrap_data_key, wrap_data_key
from lendshield.crypto.errors import DecryptionFailed, KeyUnavailable
from lendshield.crypto.keys import KeyProvider, LocalKeyFile

__all__ = [
    "DecryptionFailed",
    "FieldCipher",
    "KeyProvider",
    "KeyUnavailable",
    "LocalKeyFile",
    "constant_time_equal",
    "keyed_digest",
    "new_data_key",
    "random_token",
    "sha256_hex",
    "token_digest",
    "unwrap_data_key",
    "wrap_data_key",
]
