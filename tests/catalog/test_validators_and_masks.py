"""Validators refuse with the path and a reason (never the value); masks hide what they must."""

from __future__ import annotations

from pathlib import Path

import pytest

from lendshield.catalog import FieldInvalid, load_catalog, masks
from lendshield.catalog import validators as v
from lendshield.catalog.errors import CatalogError, UnknownField
from lendshield.catalog.loader import parse_catalog
from lendshield.settings import Settings

CATALOG = load_catalog(Settings().policies_dir)


def ok(validator, raw: str) -> str:  # type: ignore[no-untyped-def]
    value, warnings = validator("p", raw)
    assert warnings == []
    return str(value)


def refused(validator, raw: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(FieldInvalid) as info:
        validator("fields.x", raw)
    assert info.value.path == "fields.x"
    assert raw.strip() not in info.value.detail or not raw.strip()
    return info.value.reason


# -- resident ID (GB 11643-1999) ---------------------------------------------------------------


def test_resident_id_18_digits_with_check_digit() -> None:
    assert ok(v.cn_resident_id, "11010519491231002X") == "11010519491231002X"
    assert ok(v.cn_resident_id, "11010519491231002x") == "11010519491231002X"
    assert ok(v.cn_resident_id, "110101199003070011") == "110101199003070011"
    assert "check digit" in refused(v.cn_resident_id, "110105194912310021")


def test_resident_id_legacy_15_digits() -> None:
    assert ok(v.cn_resident_id, "110105491231002") == "110105491231002"
    assert refused(v.cn_resident_id, "11010549123100X")


@pytest.mark.parametrize("body", ["11010519490230001", "11010519491301001", "11010519490000001", "11010519490431001"])
def test_resident_id_impossible_dates(body: str) -> None:
    from stdnum.cn import ric

    number = body + ric.calc_check_digit(body + "0")
    assert "date" in refused(v.cn_resident_id, number)


def test_resident_id_legacy_impossible_date() -> None:
    assert "date" in refused(v.cn_resident_id, "110105490230002")


def test_resident_id_in_the_future_or_too_old() -> None:
    from stdnum.cn import ric

    for body in ["11010521990101001", "11010518000101001"]:
        assert refused(v.cn_resident_id, body + ric.calc_check_digit(body + "0"))


@pytest.mark.parametrize("raw", ["", "1234", "1101051949123100", "11010519491231002XX", "1101051949123100AX", "X10105194912310021"])
def test_resident_id_wrong_shapes(raw: str) -> None:
    refused(v.cn_resident_id, raw)


def test_resident_id_unknown_or_newer_area_code_is_a_warning_not_a_refusal() -> None:
    from stdnum.cn import ric

    unknown = "99999919800101001"  # area 999999 exists in no table
    value, warnings = v.cn_resident_id("p", unknown + ric.calc_check_digit(unknown + "0"))
    assert value.startswith("999999")
    assert warnings == ["area code not in the current administrative-division table"]
    # Pudong New Area (310115) was created in 1993; someone born there in 1960 got the code later.
    newer = "31011519600101001"
    value, warnings = v.cn_resident_id("p", newer + ric.calc_check_digit(newer + "0"))
    assert value.startswith("310115")
    assert warnings


# -- phones -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13812345678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("+86-138-1234-5678", "+8613812345678"),
        ("0086 13812345678", "+8613812345678"),
        ("１３８１２３４５６７８", "+8613812345678"),
        ("010 6552 9988", "+861065529988"),
        ("+44 7911 123456", "+447911123456"),
        ("+1 650-253-0000", "+16502530000"),
        ("+852 6123 4567", "+85261234567"),
    ],
)
def test_phone_normalises_to_e164(raw: str, e164: str) -> None:
    assert ok(v.phone, raw) == e164


@pytest.mark.parametrize("raw", ["", "abc", "1234", "1381234567", "+86 100 0000 0000", "1381234567\x00", "99999999999999999"])
def test_phone_refusals(raw: str) -> None:
    refused(v.phone, raw)


# -- other validators ---------------------------------------------------------------------------


def test_bank_card_luhn() -> None:
    assert ok(v.bank_card, "6222 0202 0011 2233 446") == "6222020200112233446"
    assert ok(v.bank_card, "4111-1111-1111-1111") == "4111111111111111"
    assert "Luhn" in refused(v.bank_card, "6222020200112233447")
    refused(v.bank_card, "12345")
    refused(v.bank_card, "4111111111111111111111")
    refused(v.bank_card, "4111a11111111111")


def test_imei() -> None:
    assert ok(v.imei, "49-015420-323751-8") == "490154203237518"
    refused(v.imei, "490154203237519")
    refused(v.imei, "49015420323751")


def test_email() -> None:
    assert ok(v.email, "Li.Si+loan@Example.COM") == "Li.Si+loan@example.com"
    for bad in ["", "no-at", "a@b", "a@@b.com", "a b@c.com", "@example.com", "a@-x.com", "x" * 250 + "@e.com"]:
        refused(v.email, bad)


def test_names_text_address() -> None:
    assert ok(v.person_name, " 张三 ") == "张三"
    assert ok(v.person_name, "Ｊｏｈｎ Ｓｍｉｔｈ") == "John Smith"
    for bad in ["", "张3", "a" * 65, "张\x07三"]:
        refused(v.person_name, bad)
    assert ok(v.text, "合成数据有限公司") == "合成数据有限公司"
    refused(v.text, "x" * 201)
    refused(v.text, "a\nb")
    assert ok(v.address, "北京市朝阳区建国路88号") == "北京市朝阳区建国路88号"
    refused(v.address, "北")


def test_money_location_reference() -> None:
    assert ok(v.money, "12,000") == "12000.00"
    assert ok(v.money, "０.５") == "0.50"
    for bad in ["", "abc", "-1", "NaN", "Infinity", "1e13"]:
        refused(v.money, bad)
    assert ok(v.geo_point, "39.9042,116.4074") == "39.904200,116.407400"
    for bad in ["", "39.9", "91,0", "0,181", "nan,nan", "a,b", "1,2,3"]:
        refused(v.geo_point, bad)
    assert ok(v.opaque_ref, "blob:sha256/abc") == "blob:sha256/abc"
    refused(v.opaque_ref, "has space")


def test_non_string_value_is_refused_by_spec() -> None:
    with pytest.raises(FieldInvalid) as info:
        CATALOG.field("mobile").validate(13812345678, "fields.mobile")  # type: ignore[arg-type]
    assert info.value.path == "fields.mobile"


def test_unknown_field_names_the_path() -> None:
    with pytest.raises(UnknownField) as info:
        CATALOG.field("shoe_size", "fields.shoe_size")
    assert info.value.extra["path"] == "fields.shoe_size"


# -- masks --------------------------------------------------------------------------------------


def test_masks_examples() -> None:
    assert masks.resident_id("110101199003071234") == "110101********1234"
    assert masks.resident_id("110105491231002") == "110105*****1002"
    assert masks.phone("+8613812345678") == "138****5678"
    assert masks.phone("+447911123456") == "+44 ******3456"
    assert masks.phone("+861065529988") == "+86 ******9988"
    assert masks.last4("6222020200112233446") == "**** 3446"
    assert masks.last4("1234") == "****"
    assert masks.name("张三") == "张*"
    assert masks.name("欧阳娜娜") == "欧***"
    assert masks.name("John Smith") == "J*** S****"
    assert masks.email("li.si@example.com") == "l***@example.com"
    assert masks.address_city("北京市朝阳区建国路88号") == "北京市***"
    assert masks.address_city("广东省深圳市南山区科技园路1号") == "广东省深圳市***"
    assert masks.address_city("新疆维吾尔自治区乌鲁木齐市天山区") == "新疆维吾尔自治区乌鲁木齐市***"
    assert masks.address_city("朝阳区建国路88号") == "朝阳***"
    # A county (县) address is cut to the province, not mid-way through the province's name.
    assert masks.address_city("黑龙江省柳县东丽李街9号") == "黑龙江省***"
    assert masks.address_city("内蒙古自治区平县魏都南昌路1号") == "内蒙古自治区***"
    assert masks.address_city("香港特别行政区红县长寿广州街1号") == "香港特别行政区***"
    assert masks.hidden("12000.00") == "***"
    assert masks.prefix2("合成数据有限公司") == "合成***"


def test_catalog_covers_the_issue() -> None:
    needed = {
        "name",
        "resident_id",
        "mobile",
        "email",
        "address",
        "bank_card",
        "income",
        "employer",
        "device_imei",
        "location",
        "face_image_ref",
    }
    assert needed <= set(CATALOG.fields)
    assert {n for n, f in CATALOG.fields.items() if f.sensitive} >= {"resident_id", "bank_card", "location", "face_image_ref"}
    assert {n for n, f in CATALOG.fields.items() if f.blind_index} == {"resident_id", "mobile", "device_imei"}
    for spec in CATALOG.fields.values():
        assert spec.label_zh
        assert spec.label_en


def test_catalog_loader_refuses_broken_documents(tmp_path: Path) -> None:
    for doc in [None, [], {"categories": {}}, {"categories": {}, "roles": {}, "fields": {"x": {"category": "nope"}}}]:
        with pytest.raises(CatalogError):
            parse_catalog(doc)
    base = {"categories": {"c": {}}, "roles": {}}
    field = {"label_zh": "x", "label_en": "x", "category": "c", "sensitive": False, "validator": "text", "mask": "none"}
    assert parse_catalog({**base, "fields": {"x": field}}).fields["x"].validator_name == "text"
    with pytest.raises(CatalogError):
        parse_catalog({**base, "fields": {"x": {**field, "validator": "nope"}}})
    with pytest.raises(CatalogError):
        parse_catalog({**base, "fields": {"x": {**field, "mask": "nope"}}})
    with pytest.raises(CatalogError):
        load_catalog(tmp_path)
