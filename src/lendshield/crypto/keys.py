"""Key providers: where key-encryption keys (KEKs), named secrets and signing keys live.

The local key file is the embedded default; production uses a KMS (see ``crypto.vault``).
KEKs are versioned: data keys are wrapped under the current version, older versions stay until
nothing needs them. ``lendshield keys rotate`` makes a new version current and re-wraps; retiring
an old version is its own, later step (``lendshield keys retire VERSION``), so that a process that
wrapped a data key under the old version just before the rotation cannot lose it.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lendshield.crypto.errors import DecryptionFailed, KeyUnavailable

KEY_FILE_FORMAT = "lendshield-keys/v1"


class KeyProvider(Protocol):
    """What the rest of LendShield may ask of a key store. Key bytes of KEKs never leave it."""

    def current_kek_version(self) -> str:
        """The version ``wrap`` uses now (as the key store says at the time of the call)."""
        ...

    def kek_versions(self) -> list[str]:
        """Every version that can still unwrap (the current one and those not retired)."""
        ...

    def wrap(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
        """Encrypt a data key under the current KEK; returns (kek version, wrapped bytes)."""
        ...

    def unwrap(self, version: str, wrapped: bytes, aad: bytes) -> bytes: ...

    def add_kek(self) -> str:
        """Create a new KEK and make it current; returns its version."""
        ...

    def retire_kek(self, version: str) -> None: ...

    def secret(self, name: str) -> bytes:
        """A 32-byte secret for a named use (blind index, ledger subject refs, tokens ...)."""
        ...

    def signing_key(self, name: str, version: str | None = None) -> tuple[str, Ed25519PrivateKey]:
        """An Ed25519 key for a named use; the current version unless one is given."""
        ...

    def signing_versions(self, name: str) -> list[str]: ...

    def add_signing_key(self, name: str) -> str: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def derive_secret(root: bytes, name: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"lendshield/" + name.encode()).derive(root)


class LocalKeyFile:
    """KEKs and secrets in a JSON file created with mode 0600, written atomically."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        if not path.exists():
            raise KeyUnavailable(f"key file not found: {path.name}; run `lendshield init`")
        self._stamp = self._file_stamp()
        self._data = self._load()
        self._secret_cache: dict[str, bytes] = {}
        self._aead_cache: dict[str, AESGCM] = {}

    @classmethod
    def create(cls, path: Path) -> LocalKeyFile:
        """Create a fresh key file (refuses to overwrite one)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "format": KEY_FILE_FORMAT,
            "current_kek": "1",
            "keks": {"1": _b64(AESGCM.generate_key(bit_length=256))},
            "retired_keks": [],
            "root_secret": _b64(secrets.token_bytes(32)),
            "signing": {},
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        return cls(path)

    @classmethod
    def open_or_create(cls, path: Path) -> LocalKeyFile:
        return cls(path) if path.exists() else cls.create(path)

    def _file_stamp(self) -> tuple[int, int, int]:
        try:
            st = self._path.stat()
        except OSError as exc:
            raise KeyUnavailable("key file unreadable") from exc
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        """Reload when another process (``lendshield keys rotate``) has rewritten the file.

        A long-running server that kept wrapping under the KEK it loaded at start would create
        data keys under a version that is no longer current, and that a later retirement removes:
        unreadable data. The file is replaced (a new inode) on every change, so one ``stat`` per
        call tells.
        """
        stamp = self._file_stamp()
        if stamp != self._stamp:
            with self._lock:
                self._data = self._load()
                self._stamp = stamp
                self._aead_cache.clear()

    def _load(self) -> dict[str, object]:
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError) as exc:
            raise KeyUnavailable("key file unreadable") from exc
        if not isinstance(data, dict) or data.get("format") != KEY_FILE_FORMAT:
            raise KeyUnavailable("key file has an unknown format")
        return data

    def _save(self) -> None:
        tmp = self._path.with_suffix(".tmp")
        # A stale temporary file may carry a wider mode; O_EXCL guarantees ours is 0600.
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self._data, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._path)
        self._stamp = self._file_stamp()

    def _keks(self) -> dict[str, str]:
        keks = self._data["keks"]
        assert isinstance(keks, dict)
        return keks

    def _aead(self, version: str) -> AESGCM:
        aead = self._aead_cache.get(version)
        if aead is None:
            key = self._keks().get(version)
            if key is None:
                raise KeyUnavailable(f"KEK version {version} is not available")
            aead = AESGCM(_unb64(key))
            self._aead_cache[version] = aead
        return aead

    def current_kek_version(self) -> str:
        self._refresh()
        return str(self._data["current_kek"])

    def kek_versions(self) -> list[str]:
        self._refresh()
        return sorted(self._keks(), key=int)

    def wrap(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
        self._refresh()  # the version current now, not the one current when this process started
        data = self._data  # one snapshot: the version and its key come from the same file
        version = str(data["current_kek"])
        nonce = os.urandom(12)
        return version, nonce + self._aead(version).encrypt(nonce, plaintext, aad)

    def unwrap(self, version: str, wrapped: bytes, aad: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        if len(wrapped) < 12 + 16:
            raise DecryptionFailed()
        if version not in self._keks():
            self._refresh()  # a KEK added by another process since we loaded the file
        try:
            return self._aead(version).decrypt(wrapped[:12], wrapped[12:], aad)
        except InvalidTag as exc:
            raise DecryptionFailed() from exc

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """This process's lock and the sidecar file lock, with the file read afresh inside both.

        Two processes changing KEKs at once would otherwise each write their own version "N+1"
        (or undo the other's retirement) over a file the other had already replaced.
        """
        with self._lock, open(self._path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._data = self._load()
                self._aead_cache.clear()
                yield
            finally:
                self._stamp = self._file_stamp()
                fcntl.flock(lock, fcntl.LOCK_UN)

    def add_kek(self) -> str:
        with self._exclusive():
            version = str(max(int(v) for v in self._keks()) + 1)
            self._keks()[version] = _b64(AESGCM.generate_key(bit_length=256))
            self._data["current_kek"] = version
            self._save()
            return version

    def retire_kek(self, version: str) -> None:
        with self._exclusive():
            if version == str(self._data["current_kek"]):
                raise KeyUnavailable("the current KEK cannot be retired")
            if version in self._keks():
                del self._keks()[version]
                retired = self._data.setdefault("retired_keks", [])
                assert isinstance(retired, list)
                retired.append(version)
                self._save()

    def secret(self, name: str) -> bytes:
        cached = self._secret_cache.get(name)
        if cached is None:
            root = self._data["root_secret"]
            assert isinstance(root, str)
            cached = derive_secret(_unb64(root), name)
            self._secret_cache[name] = cached
        return cached

    def _signing(self) -> dict[str, dict[str, object]]:
        signing = self._data.setdefault("signing", {})
        assert isinstance(signing, dict)
        return signing

    def signing_versions(self, name: str) -> list[str]:
        entry = self._signing().get(name)
        if not entry:
            return []
        keys = entry["keys"]
        assert isinstance(keys, dict)
        return sorted(keys, key=int)

    def add_signing_key(self, name: str) -> str:
        with self._lock:
            self._data = self._load()
            entry = self._signing().setdefault(name, {"current": "0", "keys": {}})
            keys = entry["keys"]
            assert isinstance(keys, dict)
            version = str(max((int(v) for v in keys), default=0) + 1)
            keys[version] = _b64(secrets.token_bytes(32))
            entry["current"] = version
            self._save()
            return version

    def _ensure_signing_key(self, name: str) -> None:
        """Create the first key of ``name`` unless another process already has.

        Under an exclusive lock on a sidecar file, the key file is read again first: a server and
        a CLI started together must not each create a "first" key (the second would silently
        replace the one the first already signed with).
        """
        with self._lock, open(self._path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._data = self._load()
                if name not in self._signing():
                    self._signing()[name] = {"current": "1", "keys": {"1": _b64(secrets.token_bytes(32))}}
                    self._save()
                else:
                    self._stamp = self._file_stamp()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def signing_key(self, name: str, version: str | None = None) -> tuple[str, Ed25519PrivateKey]:
        self._refresh()  # another process may have added or rotated it since we loaded the file
        entry = self._signing().get(name)
        if entry is None:
            self._ensure_signing_key(name)
            entry = self._signing()[name]
        keys = entry["keys"]
        assert isinstance(keys, dict)
        chosen = version if version is not None else str(entry["current"])
        seed = keys.get(chosen)
        if seed is None:
            raise KeyUnavailable(f"signing key {name} version {chosen} is not available")
        return chosen, Ed25519PrivateKey.from_private_bytes(_unb64(seed))
