"""Recognisers: positives and hard negatives for every type (issue 8, item 1).

Checksummed types cite their standard: GB 11643-1999 (resident ID), ISO/IEC 7812 (Luhn),
GB 32100-2015 (unified social credit code).
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import pytest

from lendshield.clock import FrozenClock
from lendshield.dlp import Finding, Scanner, default_config
from lendshield.dlp import synthetic as syn
from lendshield.dlp.checks import bank_card
from lendshield.dlp.engines import hyperscan_available

SCANNER = Scanner(clock=FrozenClock(datetime(2026, 11, 23, tzinfo=UTC)))
RNG = random.Random(8)


def found(text: str, scanner: Scanner = SCANNER) -> list[tuple[str, str]]:
    return [(f.type, f.value) for f in scanner.scan(text)]


def types_in(text: str) -> set[str]:
    return {f.type for f in SCANNER.scan(text)}


# --- resident ID (GB 11643-1999) -------------------------------------------------------------


def test_resident_id_18_and_legacy_15_found_with_canonical_form() -> None:
    f = SCANNER.scan("身份证号：11010519491231002x。")
    assert [(x.type, x.value, x.normalized) for x in f] == [("resident_id", "11010519491231002x", "11010519491231002X")]
    assert f[0].validator.startswith("GB 11643-1999")
    legacy = syn.legacy_resident_id(RNG)
    assert found(f"旧证 {legacy} 已换") == [("resident_id", legacy)]


def test_resident_id_spaced_form_is_found() -> None:
    assert found("证件号 110105 19491231 002X") == [("resident_id", "110105 19491231 002X")]


@pytest.mark.parametrize(
    "text",
    [
        "身份证号：11010519491231002 5",  # cut by a space: 17 digits then one
        "身份证号：110105194912310021",  # GB 11643 check digit wrong (should be X)
        "订单号 202312011234567890",  # order number: no province 20, fails the check anyway
        "身份证号：110105194902301234",  # 30 February
        "身份证号：110105187001011239",  # born before 1880
        "身份证号：110105203001011230",  # born in the future
        "ORD11010519491231002X",  # inside a longer code
        "11010519491231002X7",  # followed by another digit
    ],
)
def test_resident_id_hard_negatives(text: str) -> None:
    assert "resident_id" not in types_in(text)


def test_area_code_newer_than_birth_year_is_not_refused() -> None:
    # 310115 (Pudong New Area) was created in 1993; people born there in 1950 carry it.
    body = "31011519500101123"
    value = body + syn.resident_id_check(body)
    assert found(value) == [("resident_id", value)]


def test_resident_id_wins_over_a_bank_card_reading_of_the_same_digits() -> None:
    # 620102 (Lanzhou) starts like a UnionPay card; find a sequence number for which the 18
    # digits pass both GB 11643 and Luhn: the resident ID reading must win.
    candidates = (f"62010219800101{seq:03d}" for seq in range(1000))
    both = next(
        body + syn.resident_id_check(body)
        for body in candidates
        if syn.resident_id_check(body) != "X" and bank_card(body + syn.resident_id_check(body)) is not None
    )
    assert found(f"号码 {both}") == [("resident_id", both)]
    # The same digits with a wrong ID check digit but a valid Luhn digit are read as a card.
    card_only = next(
        body + d
        for body in (f"62010219800101{seq:03d}" for seq in range(1000))
        for d in "0123456789"
        if d != syn.resident_id_check(body) and bank_card(body + d) is not None
    )
    assert found(f"号码 {card_only}") == [("bank_card", card_only)]


# --- mobile ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("手机 13812345678", "13812345678"),
        ("tel +86 138 1234 5678", "+86 138 1234 5678"),
        ("电话 +86-138-1234-5678", "+86-138-1234-5678"),
        ("联系 8613812345678", "8613812345678"),
        ("联系 0086 13812345678", "0086 13812345678"),
        ("手机：１３８１２３４５６７８", "１３８１２３４５６７８"),
    ],
)
def test_mobile_forms(text: str, value: str) -> None:
    f = SCANNER.scan(text)
    assert [(x.type, x.value, x.normalized) for x in f] == [("mobile", value, "+8613812345678")]


@pytest.mark.parametrize(
    "text",
    [
        "时间戳 1701398400000",  # 13-digit millisecond timestamp
        "编号 12345678901",  # 12x is no mobile block
        "SKU13812345678",  # inside a longer code
        "138123456789",  # 12 digits
    ],
)
def test_mobile_hard_negatives(text: str) -> None:
    assert "mobile" not in types_in(text)


# --- bank cards (ISO/IEC 7812) ---------------------------------------------------------------


def test_bank_cards_16_and_19_digits_and_spaced() -> None:
    c16, c19 = syn.bank_card(RNG, 16), syn.bank_card(RNG, 19)
    spaced = " ".join(c16[i : i + 4] for i in range(0, 16, 4))
    text = f"卡号 {c16}；还款卡 {c19}；信用卡 {spaced}"
    assert found(text) == [("bank_card", c16), ("bank_card", c19), ("bank_card", spaced)]
    assert [f.normalized for f in SCANNER.scan(spaced)] == [c16]


@pytest.mark.parametrize(
    "make",
    [
        lambda: syn.corrupt_check(syn.bank_card(RNG)),  # Luhn fails
        lambda: "9" + syn.bank_card(RNG, 16)[1:],  # unknown issuer (and likely Luhn)
        lambda: "1" * 16,  # no issuer 11
        lambda: "X" + syn.bank_card(RNG, 16),  # inside a longer code
        lambda: syn.bank_card(RNG, 16)[:15],  # 15 digits is not a card here
    ],
)
def test_bank_card_hard_negatives(make) -> None:  # type: ignore[no-untyped-def]
    assert "bank_card" not in types_in(f"号码 {make()} 结束")


# --- unified social credit code (GB 32100-2015) -----------------------------------------------


def test_uscc_valid_and_corrupted() -> None:
    code = syn.uscc(RNG)
    assert found(f"统一社会信用代码：{code}") == [("uscc", code)]
    assert "uscc" not in types_in(f"统一社会信用代码：{syn.corrupt_check(code)}")
    assert "uscc" not in types_in(f"代码 A{code}")


# --- passports, plates, landlines ---------------------------------------------------------------


def test_passport_needs_context_and_a_format() -> None:
    assert found("护照号码 E12345678") == [("passport", "E12345678")]
    assert found("护照 EA1234567") == [("passport", "EA1234567")]
    assert "passport" not in types_in("型号 E12345678 配件")  # no context: below the threshold
    assert "passport" not in types_in("护照 E1234567")  # too short
    assert "passport" not in types_in("护照 XE12345678")


def test_licence_plates() -> None:
    assert found("车牌号 京A12345") == [("licence_plate", "京A12345")]
    assert found("车牌 粤B·D12345") == [("licence_plate", "粤B·D12345")]  # new energy
    assert "licence_plate" not in types_in("车牌 京ABCDEF")  # too many letters
    assert "licence_plate" not in types_in("车牌 京I12345")  # I is never used
    assert "licence_plate" not in types_in("车牌 京A123456")  # six without D/F


def test_landlines() -> None:
    f = SCANNER.scan("单位电话 010-62345678，座机 (0755)86123456")
    assert [(x.type, x.normalized) for x in f] == [("landline", "+861062345678"), ("landline", "+8675586123456")]
    assert "landline" not in types_in("电话 010-1234")
    assert "landline" not in types_in("编号 A010-62345678")


# --- e-mail, IP ---------------------------------------------------------------------------------


def test_email_and_its_local_part_is_not_also_a_mobile() -> None:
    assert found("邮箱 13812345678@QQ.com") == [("email", "13812345678@QQ.com")]
    assert SCANNER.scan("邮箱 Zhang.San@Example.COM")[0].normalized == "Zhang.San@example.com"
    assert "email" not in types_in("邮箱 a..b@example.com")
    assert "email" not in types_in("邮箱 user@localhost")


def test_ip_addresses() -> None:
    assert found("登录 IP 192.168.10.25") == [("ipv4", "192.168.10.25")]
    assert found("来源 2001:db8::8a2e:370:7334 登录") == [("ipv6", "2001:db8::8a2e:370:7334")]
    assert "ipv4" not in types_in("版本 1.2.3.4.5")
    assert "ipv4" not in types_in("IP 256.1.1.1")
    assert "ipv6" not in types_in("时间 12:30:45")
    assert "ipv6" not in types_in("MAC 00:1a:2b:3c:4d:5e")


# --- addresses and names ---------------------------------------------------------------------


def test_addresses_by_gazetteer_and_by_context() -> None:
    assert found("寄到广东省深圳市南山区科技园路18号3栋502室。") == [("address", "广东省深圳市南山区科技园路18号3栋502室")]
    assert found("住址：朝阳区建国路88号") == [("address", "朝阳区建国路88号")]
    assert "address" not in types_in("深圳市的天气很好")  # a city alone is not an address
    assert "address" not in types_in("第88号文件")


def test_names_after_context_words_only() -> None:
    assert found("借款人：张三，逾期30天") == [("person_name", "张三")]
    assert found("紧急联系人 欧阳娜娜 电话") == [("person_name", "欧阳娜娜")]
    assert found("联系人李四电话") == [("person_name", "李四")]
    assert "person_name" not in types_in("张三丰是武当派创始人")  # no context word
    assert "person_name" not in types_in("客户经理说")  # 经 is not a surname


# --- normalisation, context, confidence --------------------------------------------------------


def test_full_width_text_spans_map_back_to_the_original() -> None:
    text = "㈠手机：１３８　１２３４　５６７８；身份证：１１０１０５１９４９１２３１００２Ｘ"
    for f in SCANNER.scan(text):
        assert text[f.start : f.end] == f.value
    assert {f.normalized for f in SCANNER.scan(text)} == {"+8613812345678", "11010519491231002X"}


def test_context_words_raise_confidence() -> None:
    rid = syn.resident_id(RNG)
    plain = SCANNER.scan(f"数据 {rid}")[0]
    near = SCANNER.scan(f"身份证号码 {rid}")[0]
    assert not plain.context
    assert near.context
    rule = default_config().types["resident_id"]
    assert plain.confidence == rule.base
    assert near.confidence == pytest.approx(min(1.0, rule.base + rule.boost))
    far = SCANNER.scan("身份证" + "。" * 60 + rid)[0]
    assert not far.context  # outside the window


def test_header_context_in_cells() -> None:
    [cells] = [SCANNER.scan_cells(["E12345678"], ["护照号"])]
    assert [(f.type, f.context) for f in cells[0]] == [("passport", True)]


def test_min_confidence_filters() -> None:
    strict = Scanner(default_config().model_copy(update={"min_confidence": 0.9}))
    assert "mobile" not in {f.type for f in strict.scan("13812345678")}
    assert "mobile" in {f.type for f in strict.scan("手机 13812345678")}


def test_findings_are_ordered_and_disjoint() -> None:
    text = "借款人：王五，身份证 11010519491231002X，手机 13912345678，邮箱 a.b@example.cn，卡号 6222021234567890128"
    fs: list[Finding] = SCANNER.scan(text)
    assert [f.start for f in fs] == sorted(f.start for f in fs)
    assert all(a.end <= b.start for a, b in itertools.pairwise(fs))


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan is not installed on this platform")
def test_hyperscan_and_re_engines_find_the_same_things() -> None:
    from tests.dlp.corpus import mixed_corpus

    text = mixed_corpus(random.Random(3), lines=1500)
    hs = Scanner(engine="hyperscan", clock=FrozenClock(datetime(2026, 11, 23, tzinfo=UTC))).scan(text)
    rx = Scanner(engine="re", clock=FrozenClock(datetime(2026, 11, 23, tzinfo=UTC))).scan(text)
    assert len(hs) > 1500
    assert hs == rx
