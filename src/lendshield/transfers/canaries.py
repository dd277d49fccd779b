"""Canary identities: synthetic people placed in every export so that a leaked copy names its export.

Each value has the shape a real one has, so a canary row cannot be told from the real rows:
a resident ID with its GB 11643-1999 check digit (ISO 7064 MOD 11-2), a mobile number that
``phonenumbers`` accepts, a UnionPay card (prefix 62) with a Luhn check digit, and so on. The row
as a whole is made up; values are drawn from the operating system's random source, so the person
making an export cannot predict or strip them. Made-up is not enough: a drawn resident ID or
mobile could still be a real person's, whose value would then sit in a file that is meant to
leak only canaries. Each identifier the vault has a blind index for is looked up first and drawn
again if anyone has it (``vault_lookup``). A card number is checked the same way once the
catalog gives ``bank_card`` a blind index; until then the vault cannot tell without decrypting
every card, and a 19-digit draw is what keeps it apart.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from sqlalchemy.orm import Session
from stdnum import luhn
from stdnum.cn import ric

from lendshield.catalog import Catalog
from lendshield.errors import LendShieldError
from lendshield.principals import SYSTEM
from lendshield.runtime import Runtime
from lendshield.subjects import service as subjects

_RNG = random.SystemRandom()
CHECKED_FIELDS = ("resident_id", "mobile", "bank_card", "device_imei")
"""Identifiers whose canary value is looked up in the vault before use, when the catalog indexes them."""
CHECK_PURPOSE = "fraud_prevention"
"""The purpose of the look-up (policy rule ``system-canary-collision``: the platform, masked, these fields)."""


def checked(catalog: Catalog, field: str) -> bool:
    """Whether a drawn value of ``field`` is looked up in the vault (an identifier with a blind index)."""
    return field in CHECKED_FIELDS and catalog.fields[field].blind_index


MAX_DRAWS = 50

Taken = Callable[[str, str], bool]
"""(field, normalised value) -> whether a subject in the vault has it."""

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


def _digits(n: int, rng: random.Random = _RNG) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def person_name(rng: random.Random = _RNG) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def resident_id(today: date, rng: random.Random = _RNG) -> str:
    """18 characters: area, birth date (age 20-60), sequence, GB 11643 check digit."""
    born = today - timedelta(days=rng.randrange(20 * 365, 60 * 365))
    body = f"{rng.choice(_AREAS)}{born:%Y%m%d}{_digits(3, rng)}"
    return body + ric.calc_check_digit(body + "0")  # stdnum reads the first 17 characters


def mobile(rng: random.Random = _RNG) -> str:
    return "+86" + rng.choice(_MOBILE_PREFIXES) + _digits(8, rng)


def unionpay_card(rng: random.Random = _RNG) -> str:
    """A 19-digit card with the UnionPay prefix 62 and a Luhn check digit (ISO/IEC 7812)."""
    body = "62" + _digits(16, rng)
    return body + luhn.calc_check_digit(body)


def imei(rng: random.Random = _RNG) -> str:
    body = "35" + _digits(12, rng)
    return body + luhn.calc_check_digit(body)


def address(rng: random.Random = _RNG) -> str:
    city, district, road = rng.choice(_PLACES)
    return f"{city}{district}{road}{rng.randrange(1, 400)}号{rng.randrange(1, 30)}栋{rng.randrange(101, 2800)}室"


def email(domain: str, rng: random.Random = _RNG) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    local = "".join(rng.choice(letters) for _ in range(rng.randrange(5, 9))) + _digits(rng.randrange(2, 5), rng)
    return f"{local}@{domain}"


def _text_for(field: str, rng: random.Random) -> str:
    if field == "relationship":
        return rng.choice(_RELATIONS)
    if field == "employer":
        city = rng.choice(_PLACES)[0].removesuffix("市")[-2:]
        return city + rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_EMPLOYERS)
    return person_name(rng) + _digits(4, rng)


def _location(rng: random.Random) -> str:
    return f"{rng.uniform(22.5, 40.0):.6f},{rng.uniform(104.0, 121.5):.6f}"


class CanaryCollision(LendShieldError):
    """Every draw of a canary value was a real person's: the generator, not the input, is at fault."""

    status = 500
    code = "canary-collision"
    title = "Canary generation failed"


def vault_lookup(session: Session, rt: Runtime) -> Taken:
    """Whether a subject in the vault has a value, through the vault's blind-index look-up.

    The platform asks (``SYSTEM``, purpose ``fraud_prevention``), so the look-ups are in the
    ledger as the platform's, never as the staff member's who made the export.
    """

    def taken(field: str, value: str) -> bool:
        return bool(subjects.find_by(session, rt, SYSTEM, field, value, purpose=CHECK_PURPOSE))

    return taken


def identity(
    catalog: Catalog,
    fields: Sequence[str],
    *,
    today: date,
    email_domain: str,
    taken: Taken,
    rng: random.Random = _RNG,
) -> dict[str, str]:
    """One synthetic person with a value for each field, normalised by the catalog's validators.

    An identifier that ``taken`` says a real person has is drawn again (``checked``).
    """
    makers: dict[str, Callable[[], str]] = {
        "cn_resident_id": lambda: resident_id(today, rng),
        "phone": lambda: mobile(rng),
        "email": lambda: email(email_domain, rng),
        "bank_card": lambda: unionpay_card(rng),
        "imei": lambda: imei(rng),
        "person_name": lambda: person_name(rng),
        "address": lambda: address(rng),
        "money": lambda: str(rng.randrange(30, 400) * 100),
        "geo_point": lambda: _location(rng),
        "opaque_ref": lambda: f"ref:face-{_digits(8, rng)}",
    }
    out: dict[str, str] = {}
    for name in fields:
        spec = catalog.fields[name]
        make = makers.get(spec.validator_name)
        for _ in range(MAX_DRAWS):
            raw = make() if make is not None else _text_for(name, rng)
            out[name], _warnings = spec.validate(raw, f"canary.{name}")
            if not checked(catalog, name) or not taken(name, out[name]):
                break
        else:
            raise CanaryCollision(f"no unused canary {name} in {MAX_DRAWS} draws")
    return out


def positions(real_rows: int, canaries: int, rng: random.Random = _RNG) -> list[int]:
    """Where the canaries go among ``real_rows + canaries`` rows: random, sorted."""
    return sorted(rng.sample(range(real_rows + canaries), canaries))
