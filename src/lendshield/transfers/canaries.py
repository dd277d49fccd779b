"""Canary identities: synthetic people placed in every export so that a leaked copy names its export.

Each value has the shape a real one has, so a canary row cannot be told from the real rows:
a resident ID with its GB 11643-1999 check digit (ISO 7064 MOD 11-2), a mobile number that
``phonenumbers`` accepts, a UnionPay card (prefix 62) with a Luhn check digit, and so on. The row
as a whole is made up; values are drawn from the operating system's random source, so the person
making an export cannot predict or strip them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from stdnum import luhn
from stdnum.cn import ric

from lendshield.catalog import Catalog

_RNG = random.SystemRandom()

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕辉鹏"
    "飞建华文斌宇浩凯欣怡佳琪子涵梓轩思远晨阳雨桐一鸣嘉怡俊杰晓东海波志强丹丹"
)
# County-level area codes of large cities (GB/T 2260), as real resident IDs carry.
_AREAS = ("110105", "110108", "310104", "310115", "440106", "440305", "330106", "320102", "510107", "420106", "370102", "410105")
# Mainland mobile prefixes long allocated to the three carriers (phonenumbers accepts them).
_MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "186", "187", "188")
_PLACES = (
    ("北京市", "朝阳区", "建国路"),
    ("北京市", "海淀区", "中关村大街"),
    ("上海市", "徐汇区", "漕溪北路"),
    ("上海市", "浦东新区", "张杨路"),
    ("广东省广州市", "天河区", "体育西路"),
    ("广东省深圳市", "南山区", "科技园路"),
    ("浙江省杭州市", "西湖区", "文三路"),
    ("江苏省南京市", "玄武区", "中山路"),
    ("四川省成都市", "武侯区", "人民南路"),
    ("湖北省武汉市", "武昌区", "中南路"),
)
_EMPLOYERS = ("科技有限公司", "贸易有限公司", "物流有限公司", "餐饮管理有限公司", "建筑工程有限公司", "信息技术有限公司")
_RELATIONS = ("配偶", "父母", "同事", "朋友", "本人")


def _digits(n: int) -> str:
    return "".join(str(_RNG.randrange(10)) for _ in range(n))


def person_name() -> str:
    return _RNG.choice(_SURNAMES) + "".join(_RNG.choice(_GIVEN) for _ in range(_RNG.choice((1, 2))))


def resident_id(today: date) -> str:
    """18 characters: area, birth date (age 20-60), sequence, GB 11643 check digit."""
    born = today - timedelta(days=_RNG.randrange(20 * 365, 60 * 365))
    body = f"{_RNG.choice(_AREAS)}{born:%Y%m%d}{_digits(3)}"
    return body + ric.calc_check_digit(body + "0")  # stdnum reads the first 17 characters


def mobile() -> str:
    return "+86" + _RNG.choice(_MOBILE_PREFIXES) + _digits(8)


def unionpay_card() -> str:
    """A 19-digit card with the UnionPay prefix 62 and a Luhn check digit (ISO/IEC 7812)."""
    body = "62" + _digits(16)
    return body + luhn.calc_check_digit(body)


def imei() -> str:
    body = "35" + _digits(12)
    return body + luhn.calc_check_digit(body)


def address() -> str:
    city, district, road = _RNG.choice(_PLACES)
    return f"{city}{district}{road}{_RNG.randrange(1, 400)}号{_RNG.randrange(1, 30)}栋{_RNG.randrange(101, 2800)}室"


def email(domain: str) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    local = "".join(_RNG.choice(letters) for _ in range(_RNG.randrange(5, 9))) + _digits(_RNG.randrange(2, 5))
    return f"{local}@{domain}"


def _text_for(field: str) -> str:
    if field == "relationship":
        return _RNG.choice(_RELATIONS)
    if field == "employer":
        city = _RNG.choice(_PLACES)[0].removesuffix("市")[-2:]
        return city + _RNG.choice(_SURNAMES) + _RNG.choice(_GIVEN) + _RNG.choice(_EMPLOYERS)
    return person_name() + _digits(4)


def _location() -> str:
    return f"{_RNG.uniform(22.5, 40.0):.6f},{_RNG.uniform(104.0, 121.5):.6f}"


def identity(catalog: Catalog, fields: Sequence[str], *, today: date, email_domain: str) -> dict[str, str]:
    """One synthetic person with a value for each field, normalised by the catalog's validators."""
    makers: dict[str, Callable[[], str]] = {
        "cn_resident_id": lambda: resident_id(today),
        "phone": mobile,
        "email": lambda: email(email_domain),
        "bank_card": unionpay_card,
        "imei": imei,
        "person_name": person_name,
        "address": address,
        "money": lambda: str(_RNG.randrange(30, 400) * 100),
        "geo_point": _location,
        "opaque_ref": lambda: f"ref:face-{_digits(8)}",
    }
    out: dict[str, str] = {}
    for name in fields:
        spec = catalog.fields[name]
        make = makers.get(spec.validator_name)
        raw = make() if make is not None else _text_for(name)
        out[name], _warnings = spec.validate(raw, f"canary.{name}")
    return out


def positions(real_rows: int, canaries: int) -> list[int]:
    """Where the canaries go among ``real_rows + canaries`` rows: random, sorted."""
    return sorted(_RNG.sample(range(real_rows + canaries), canaries))
