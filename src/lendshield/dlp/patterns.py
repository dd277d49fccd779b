"""The candidate patterns: one table, compiled for hyperscan and for Python's ``re`` alike.

Patterns are written once, in the common subset of both dialects: ASCII ``\\b`` and ``\\d``
(so a Chinese character next to a digit is a boundary, a letter is not), ``\\uXXXX`` escapes for
CJK ranges, and the value in a ``(?P<v>...)`` group where the match also holds the context word
that anchors it. For hyperscan the group becomes non-capturing and a lookahead becomes part of
the match; the value's exact span is always taken from the Python pattern, so both engines report
the same spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from lendshield.dlp.config import PiiType

CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
_PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_CHAR = "A-HJ-NP-Z0-9"
_ROAD = "(?:大道|大街|胡同|路|街|巷|弄|道)"
_UNIT = r"(?:\d{1,5}(?:号楼|栋|幢|单元|层|室|楼|号))*"
# Words after which a name follows; not 客户 or 本人, which are followed by nouns as often.
_NAME_CONTEXT = "紧急联系人|联系人|借款人|担保人|申请人|债务人|被催收人|持卡人|开户名|收件人|收货人|客户姓名|姓名|配偶"
# What may follow a name: anything not a Chinese character, or a word that starts a new item.
_NAME_END = f"(?:[^{CJK}]|先生|女士|小姐|同志|电话|手机|身份|证件|住址|地址|住在|现住|的|于|在|已|欠|借|逾期|申请|名下|性别|年龄)"
_USCC_TAIL = "[0-9A-HJ-NPQRTUWXY]"  # characters 9-18 of a unified social credit code
# Characters 9-18 with a letter among them, other than a final X: the first letter at each place.
_USCC_LETTERED = "(?:" + "|".join(("\\d" * k) + f"[A-HJ-NPQRTUWXY]{_USCC_TAIL}{{{9 - k}}}" for k in range(9)) + "|\\d{9}[A-HJ-NPQRTUWY])"
_ADDRESS_CONTEXT = "家庭住址|现住址|户籍地址|单位地址|通讯地址|收货地址|居住地址|住址|地址|居住地|户籍地"


@dataclass(frozen=True, slots=True)
class PatternSpec:
    name: str
    types: tuple[PiiType, ...]  # readings to try, strongest first
    source: str
    max_len: int  # longest match: how far before a hyperscan end offset the match may start
    # A hyperscan pattern for where a match must begin (its leading literals), for patterns too
    # large for hyperscan to track match starts: candidates are then confirmed with re.match.
    anchor: str | None = None
    # An ASCII pattern whose match is fixed by where it starts and ends (digit runs between
    # boundaries): hyperscan's own start and end are the match, no confirmation needed.
    exact: bool = False
    # For a pattern that is not ASCII: an ASCII hyperscan pattern for the text's ASCII shadow
    # (every other character a ``?``) that ends wherever a match of the pattern ends.
    shadow: str | None = None


@cache
def _data(name: str) -> dict[str, object]:
    text = resources.files("lendshield.dlp").joinpath("data", name).read_text(encoding="utf-8")
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


def gazetteer() -> tuple[list[str], list[str]]:
    """(provinces, cities) from ``data/gazetteer.yaml``."""
    data = _data("gazetteer.yaml")
    provinces, cities = data["provinces"], data["cities"]
    assert isinstance(provinces, list)
    assert isinstance(cities, list)
    return [str(p) for p in provinces], [str(c) for c in cities]


def surnames() -> tuple[list[str], str]:
    """(compound surnames, single-character surnames as one string) from ``data/surnames.yaml``."""
    data = _data("surnames.yaml")
    compound, single = data["compound"], data["single"]
    assert isinstance(compound, list)
    assert isinstance(single, str)
    return [str(c) for c in compound], single.replace(" ", "")


def _alternation(words: list[str]) -> str:
    # Longest first, so Python's ordered alternation prefers 内蒙古自治区 over a shorter prefix.
    return "(?:" + "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w))) + ")"


@cache
def pattern_specs() -> tuple[PatternSpec, ...]:
    provinces, cities = gazetteer()
    compound, single = surnames()
    surname = f"(?:{'|'.join(compound)}|[{single}])"
    places = _alternation(provinces + cities)
    return (
        PatternSpec("digits18", ("resident_id", "uscc", "bank_card"), r"\b\d{17}[\dXx]\b", 18, exact=True),
        PatternSpec("digits15", ("resident_id",), r"\b\d{15}\b", 15, exact=True),
        PatternSpec("resident_id_spaced", ("resident_id",), r"\b\d{6}[ -]\d{8}[ -]\d{3}[\dXx]\b", 20, exact=True),
        PatternSpec("card", ("bank_card",), r"\b(?:\d{16,17}|\d{19})\b", 19, exact=True),
        PatternSpec("card_spaced", ("bank_card",), r"\b\d{4}(?:[ -]\d{4}){3}(?:[ -]\d{1,3})?\b", 23, exact=True),
        # Codes that are 17 digits and a digit or X are digits18's, which tries uscc too: here
        # only codes with a letter, so that every ID and card is not a second candidate.
        PatternSpec(
            "uscc", ("uscc",), f"\\b(?:[ANY][1-9]\\d{{6}}{_USCC_TAIL}{{10}}|[1-9]{{2}}\\d{{6}}{_USCC_LETTERED})\\b", 18, exact=True
        ),
        PatternSpec("mobile", ("mobile",), r"(?:\+86[ -]?|\b0086[ -]?|\b86[ -]?|\b)1[3-9]\d(?:[ -]?\d{4}){2}\b", 19, exact=True),
        PatternSpec("landline", ("landline",), r"(?:\(0\d{2,3}\)|\b0\d{2,3})[ -]?\d{7,8}\b", 16, exact=True),
        PatternSpec(
            "email",
            ("email",),
            r"\b[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9][A-Za-z0-9-]{0,62}){0,8}\.[A-Za-z]{2,24}\b",
            380,
            anchor=r"\b[A-Za-z0-9][A-Za-z0-9._%+-]*@",
        ),
        PatternSpec("ipv4", ("ipv4",), r"\b\d{1,3}(?:\.\d{1,3}){3}\b", 15, exact=True),
        # Eight groups, or fewer around a "::" (RFC 4291 2.2): clock times such as 12:30:45 are neither.
        PatternSpec(
            "ipv6",
            ("ipv6",),
            r"[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}|(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?",
            39,
        ),
        PatternSpec("passport", ("passport",), r"\b(?:E\d{8}|E[A-HJ-NP-Z]\d{7}|[GDSP]\d{8})\b", 9, exact=True),
        PatternSpec(
            "licence_plate",
            ("licence_plate",),
            f"[{_PLATE_PROVINCES}][A-HJ-NP-Z][·•]?(?:[{_PLATE_CHAR}]{{5}}|[DF][{_PLATE_CHAR}]{{5}}|[{_PLATE_CHAR}]{{5}}[DF])\\b",
            10,
            # On the ASCII shadow the province is a ?, as every other non-ASCII character is: a
            # superset whose ends include every plate's, found faster than Chinese characters.
            shadow=f"\\?[A-HJ-NP-Z]\\??(?:[{_PLATE_CHAR}]{{5}}|[DF][{_PLATE_CHAR}]{{5}}|[{_PLATE_CHAR}]{{5}}[DF])\\b",
        ),
        PatternSpec(
            "address_gazetteer",
            ("address",),
            f"(?P<v>{_alternation(provinces)}?{_alternation(cities)}[{CJK}\\d]{{0,16}}?{_ROAD}\\d{{1,5}}号{_UNIT})",
            120,
            anchor=places,
        ),
        PatternSpec(
            "address_context",
            ("address",),
            f"(?:{_ADDRESS_CONTEXT})(?:[:\\s]|为|是){{0,3}}(?P<v>[{CJK}]{{2}}[{CJK}\\d]{{0,20}}?{_ROAD}\\d{{1,5}}号{_UNIT})",
            120,
            anchor=f"(?:{_ADDRESS_CONTEXT})",
        ),
        PatternSpec(
            "person_name",
            ("person_name",),
            f"(?:{_NAME_CONTEXT})(?:[:\\s]|为|是){{0,3}}(?P<v>{surname}[{CJK}]{{1,2}})(?={_NAME_END})",
            24,
            anchor=f"(?:{_NAME_CONTEXT})",
        ),
    )


def python_pattern(spec: PatternSpec) -> re.Pattern[str]:
    return re.compile(spec.source, re.ASCII)


_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def hyperscan_source(spec: PatternSpec) -> bytes:
    """The pattern (or its anchor) in hyperscan's dialect (UTF-8 mode, no captures, no lookaround)."""
    src = (spec.anchor or spec.source).replace("(?P<v>", "(?:").replace("(?=", "(?:")
    src = _UNICODE_ESCAPE.sub(lambda m: "\\x{" + m.group(1) + "}", src)
    return src.encode("utf-8")


def is_ascii_source(spec: PatternSpec) -> bool:
    """The hyperscan form (the anchor, if any) is ASCII, or there is a shadow form: it runs on
    the ASCII shadow."""
    return spec.shadow is not None or hyperscan_source(spec).isascii()


def shadow_source(spec: PatternSpec) -> bytes:
    """The hyperscan form for the ASCII shadow."""
    return spec.shadow.encode("ascii") if spec.shadow is not None else hyperscan_source(spec)


def _unit(ch: str) -> str:
    """One BMP character as its two UTF-16-LE bytes, escaped for hyperscan."""
    code = ord(ch)
    assert code < 0x10000, "outside the BMP"
    assert not 0xD800 <= code <= 0xDFFF, "a surrogate"
    return f"\\x{code & 0xFF:02x}\\x{code >> 8:02x}"


def _utf16_class(body: str) -> str:
    chars: list[str] = []
    ascii_ranges: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            i += 1
            ch = body[i]
            assert not ch.isalnum(), f"class escape \\{ch} is not supported in UTF-16 form"
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = ch, body[i + 2]
            assert low.isascii(), "only ASCII ranges are supported in UTF-16 form"
            assert high.isascii(), "only ASCII ranges are supported in UTF-16 form"
            ascii_ranges.append(f"\\x{ord(low):02x}-\\x{ord(high):02x}")
            i += 3
            continue
        chars.append(ch)
        i += 1
    options = [_unit(c) for c in chars]
    if ascii_ranges:
        options.append(f"[{''.join(ascii_ranges)}]\\x00")
    return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"


def utf16_source(spec: PatternSpec) -> bytes:
    """The hyperscan form for the text encoded as UTF-16-LE (two bytes a character, so a byte
    offset halved is a character offset), from the common dialect: literals, groups, classes of
    characters or ASCII ranges, quantifiers. ``\\b`` is dropped: the form finds a superset, and
    the Python pattern confirms every candidate (these patterns are never exact)."""
    assert not spec.exact
    src = (spec.anchor or spec.source).replace("(?P<v>", "(?:").replace("(?=", "(?:")
    out: list[str] = []
    i = 0
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            nxt = src[i + 1]
            i += 2
            if nxt == "b":
                continue
            if nxt == "d":
                atom = "[0-9]\\x00"
            elif nxt == "u":
                atom = _unit(chr(int(src[i : i + 4], 16)))
                i += 4
            else:
                assert not nxt.isalnum(), f"escape \\{nxt} is not supported in UTF-16 form"
                atom = _unit(nxt)
        elif ch == "[":
            close = i + 1
            while src[close] != "]" or src[close - 1] == "\\":
                close += 1
            assert src[i + 1] != "^", "negated classes are not supported in UTF-16 form"
            atom = _utf16_class(src[i + 1 : close])
            i = close + 1
        elif ch == "(":
            assert src.startswith("(?:", i), "only non-capturing groups"
            out.append("(?:")
            i += 3
            continue
        elif ch in ")|?*+":
            out.append(ch)
            i += 1
            continue
        elif ch == "{":
            close = src.index("}", i)
            out.append(src[i : close + 1])
            i = close + 1
            continue
        else:
            atom = _unit(ch)
            i += 1
        # A character is two bytes: a quantifier after it applies to both.
        out.append(f"(?:{atom})" if i < len(src) and src[i] in "?*+{" else atom)
    return "".join(out).encode("ascii")


MAX_MATCH_CHARS = 400  # longer than any pattern's longest match (e-mail addresses are the longest)
