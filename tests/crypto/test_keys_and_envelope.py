"""Key file, envelope encryption and keyed digests: round trips, AAD binding, wrong keys."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from lendshield.crypto import (
    DecryptionFailed,
    FieldCipher,
    KeyUnavailable,
    LocalKeyFile,
    keyed_digest,
    new_data_key,
    unwrap_data_key,
    wrap_data_key,
)

A = "11111111-1111-1111-1111-111111111111"
B = "22222222-2222-2222-2222-222222222222"


@pytest.fixture
def keys(tmp_path: Path) -> LocalKeyFile:
    return LocalKeyFile.create(tmp_path / "keys.json")


def test_key_file_is_created_mode_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "keys.json"
    LocalKeyFile.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        LocalKeyFile.create(path)


def test_key_file_stays_0600_after_rewrite(keys: LocalKeyFile, tmp_path: Path) -> None:
    keys.add_kek()
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600


def test_missing_or_garbled_key_file_is_key_unavailable(tmp_path: Path) -> None:
    with pytest.raises(KeyUnavailable):
        LocalKeyFile(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(KeyUnavailable):
        LocalKeyFile(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(KeyUnavailable):
        LocalKeyFile(other)


def test_field_round_trip_including_unicode(keys: LocalKeyFile) -> None:
    dek = new_data_key()
    cipher = FieldCipher(A, dek)
    for value in ["张三", "+8613812345678", "北京市朝阳区建国路88号", "x" * 1000]:
        blob = cipher.encrypt("name", 1, value)
        assert value.encode() not in blob
        assert FieldCipher(A, dek).decrypt("name", 1, blob) == value


def test_same_value_encrypts_differently_each_time() -> None:
    cipher = FieldCipher(A, new_data_key())
    assert cipher.encrypt("mobile", 1, "+8613812345678") != cipher.encrypt("mobile", 1, "+8613812345678")


@pytest.mark.parametrize(
    ("subject", "field", "version"),
    [(B, "mobile", 1), (A, "email", 1), (A, "mobile", 2)],
    ids=["other-subject", "other-field", "other-version"],
)
def test_ciphertext_moved_elsewhere_fails_opaquely(subject: str, field: str, version: int) -> None:
    dek = new_data_key()
    blob = FieldCipher(A, dek).encrypt("mobile", 1, "+8613812345678")
    with pytest.raises(DecryptionFailed) as info:
        FieldCipher(subject, dek).decrypt(field, version, blob)
    assert str(info.value) == "stored data could not be decrypted"


@pytest.mark.parametrize("mutate", ["flip-byte", "truncate", "bad-format", "empty"])
def test_tampered_ciphertext_fails_with_the_same_error(mutate: str) -> None:
    cipher = FieldCipher(A, new_data_key())
    blob = bytearray(cipher.encrypt("mobile", 1, "+8613812345678"))
    if mutate == "flip-byte":
        blob[-1] ^= 1
    elif mutate == "truncate":
        blob = blob[:20]
    elif mutate == "bad-format":
        blob[0] = 2
    else:
        blob = bytearray()
    with pytest.raises(DecryptionFailed) as info:
        cipher.decrypt("mobile", 1, bytes(blob))
    assert str(info.value) == "stored data could not be decrypted"


def test_wrong_data_key_fails() -> None:
    blob = FieldCipher(A, new_data_key()).encrypt("mobile", 1, "+8613812345678")
    with pytest.raises(DecryptionFailed):
        FieldCipher(A, new_data_key()).decrypt("mobile", 1, blob)


def test_data_key_wrap_round_trip_and_subject_binding(keys: LocalKeyFile) -> None:
    dek = new_data_key()
    version, wrapped = wrap_data_key(keys, A, dek)
    assert version == "1"
    assert unwrap_data_key(keys, A, version, wrapped) == dek
    with pytest.raises(DecryptionFailed):
        unwrap_data_key(keys, B, version, wrapped)
    with pytest.raises(DecryptionFailed):
        unwrap_data_key(keys, A, version, wrapped[:-1] + bytes([wrapped[-1] ^ 1]))
    with pytest.raises(DecryptionFailed):
        unwrap_data_key(keys, A, version, b"short")


def test_wrong_kek_fails(tmp_path: Path) -> None:
    one = LocalKeyFile.create(tmp_path / "one.json")
    two = LocalKeyFile.create(tmp_path / "two.json")
    version, wrapped = wrap_data_key(one, A, new_data_key())
    with pytest.raises(DecryptionFailed):
        unwrap_data_key(two, A, version, wrapped)


def test_versioned_keks_old_versions_still_unwrap(keys: LocalKeyFile) -> None:
    dek = new_data_key()
    v1, wrapped1 = wrap_data_key(keys, A, dek)
    v2 = keys.add_kek()
    assert (v1, v2) == ("1", "2")
    assert keys.current_kek_version() == "2"
    assert keys.kek_versions() == ["1", "2"]
    v, wrapped2 = wrap_data_key(keys, A, dek)
    assert v == "2"
    assert unwrap_data_key(keys, A, v1, wrapped1) == dek
    assert unwrap_data_key(keys, A, "2", wrapped2) == dek
    with pytest.raises(DecryptionFailed):
        unwrap_data_key(keys, A, "2", wrapped1)


def test_versions_survive_reopening_and_retire(keys: LocalKeyFile, tmp_path: Path) -> None:
    keys.add_kek()
    keys.add_kek()
    reopened = LocalKeyFile(tmp_path / "keys.json")
    assert reopened.kek_versions() == ["1", "2", "3"]
    assert reopened.current_kek_version() == "3"
    with pytest.raises(KeyUnavailable):
        reopened.retire_kek("3")
    reopened.retire_kek("1")
    assert LocalKeyFile(tmp_path / "keys.json").kek_versions() == ["2", "3"]
    with pytest.raises(KeyUnavailable):
        reopened.unwrap("1", b"\0" * 60, b"aad")


def test_another_process_rotating_is_seen_before_wrapping(keys: LocalKeyFile, tmp_path: Path) -> None:
    """A long-running server must not wrap new data keys under a KEK a rotation has retired."""
    other = LocalKeyFile(tmp_path / "keys.json")
    other.add_kek()
    other.retire_kek("1")
    version, wrapped = wrap_data_key(keys, A, new_data_key())
    assert version == "2"
    assert unwrap_data_key(other, A, version, wrapped)


def test_secrets_are_stable_distinct_and_32_bytes(keys: LocalKeyFile, tmp_path: Path) -> None:
    a = keys.secret("vault/blind-index")
    assert len(a) == 32
    assert a == LocalKeyFile(tmp_path / "keys.json").secret("vault/blind-index")
    assert a != keys.secret("vault/token-value")
    keys.add_kek()
    assert keys.secret("vault/blind-index") == a  # rotating KEKs does not move the blind index


def test_keyed_digest_is_length_prefixed() -> None:
    key = b"k" * 32
    assert keyed_digest(key, "ab", "c") != keyed_digest(key, "a", "bc")
    assert keyed_digest(key, "a") == keyed_digest(key, "a")
    assert keyed_digest(b"j" * 32, "a") != keyed_digest(key, "a")


def test_a_signing_key_made_by_another_process_is_used_not_replaced(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A server and a CLI holding the same key file: the second to ask must not make its own "first" key."""
    from lendshield.crypto.jws import public_raw

    path = tmp_path / "keys.json"
    first = LocalKeyFile.create(path)
    second = LocalKeyFile(path)  # loaded before the key exists, as a long-running server is
    v1, k1 = first.signing_key("ledger/checkpoints")
    v2, k2 = second.signing_key("ledger/checkpoints")
    assert (v1, public_raw(k1)) == (v2, public_raw(k2))
    assert second.signing_versions("ledger/checkpoints") == ["1"]


def test_the_current_kek_is_read_at_the_time_of_asking(keys: LocalKeyFile, tmp_path: Path) -> None:
    """A running process sees another process's rotation in current_kek_version and kek_versions too."""
    other = LocalKeyFile(tmp_path / "keys.json")
    assert keys.current_kek_version() == "1"
    assert other.add_kek() == "2"
    assert keys.current_kek_version() == "2"
    assert keys.kek_versions() == ["1", "2"]
    # Changes made through a stale instance build on the file as it is, never on what it loaded.
    assert keys.add_kek() == "3"
    other.retire_kek("1")
    assert LocalKeyFile(tmp_path / "keys.json").kek_versions() == ["2", "3"]
    assert keys.kek_versions() == ["2", "3"]
    with pytest.raises(KeyUnavailable):
        other.retire_kek("3")  # current, as the file says (this instance last saw 2 as current)


def test_concurrent_rotations_never_overwrite_each_other(tmp_path: Path) -> None:
    import threading

    LocalKeyFile.create(tmp_path / "many.json")
    providers = [LocalKeyFile(tmp_path / "many.json") for _ in range(6)]
    made: list[str] = []
    threads = [threading.Thread(target=lambda p=p: made.append(p.add_kek())) for p in providers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(made, key=int) == ["2", "3", "4", "5", "6", "7"]
    assert LocalKeyFile(tmp_path / "many.json").kek_versions() == ["1", "2", "3", "4", "5", "6", "7"]
