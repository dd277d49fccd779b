"""Message screening: every outgoing collection message and template is checked before sending (R9).

Rules come from ``policies/screening.yaml``: categories (threats, insults, disclosure of the debt
to a third party, impersonating authorities, threats of exposure, fees not in the contract,
pushing new loans) with Chinese and English patterns. Matching runs on normalised views of the
text — NFKC, lower case, and for Chinese with spaces and filler symbols removed, so "打 断 你 的
腿" is caught — and every hit is mapped back to its span in the original text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lendshield.errors import ConfigurationError

FILE = "screening.yaml"
Audience = Literal["debtor", "third_party"]
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_ZH_DROP = re.compile(r"[\s*_·•~\-]")
_SENTENCE_END = re.compile(r"[。！？!?;；\n]|\.\s")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Category(_Model):
    label_zh: str
    label_en: str


class RuleSpec(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,63}$")
    category: str
    lang: Literal["zh", "en"]
    audience: Literal["any", "third_party"] = "any"
    negatable: bool = False
    patterns: list[str] = Field(min_length=1)


class Context(_Model):
    zh: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)


class Negation(_Model):
    zh: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)
    window: int = Field(default=24, ge=1, le=200)
    context: Context = Field(default_factory=Context)


class ScreeningFile(_Model):
    version: Literal[1]
    negation: Negation = Field(default_factory=Negation)
    categories: dict[str, Category]
    rules: list[RuleSpec]


@dataclass(frozen=True, slots=True)
class Hit:
    rule_id: str
    category: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class _Compiled:
    spec: RuleSpec
    regex: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _View:
    text: str
    origin: list[int]  # origin[i] = offset in the original text of view character i


def _view(text: str, lang: str) -> _View:
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        norm = unicodedata.normalize("NFKC", ch).translate(_ZERO_WIDTH).translate(_QUOTES).lower()
        for c in norm:
            if lang == "zh" and _ZH_DROP.match(c):
                continue
            if lang == "en" and c in "*_":
                continue  # k*i*l*l reads as kill
            out = " " if lang == "en" and c.isspace() else c
            if out == " " and chars and chars[-1] == " ":
                continue
            chars.append(out)
            origin.append(i)
    if lang == "en":
        chars, origin = _join_spaced_letters(chars, origin)
    return _View("".join(chars), origin)


def _join_spaced_letters(chars: list[str], origin: list[int]) -> tuple[list[str], list[int]]:
    """ "d e a d b e a t" reads as "deadbeat": drop a space between two isolated letters."""
    keep_c: list[str] = []
    keep_o: list[int] = []
    n = len(chars)
    for i, c in enumerate(chars):
        if (
            c == " "
            and 0 < i < n - 1
            and chars[i - 1].isalpha()
            and chars[i + 1].isalpha()
            and (i < 2 or not chars[i - 2].isalpha())
            and (i + 2 >= n or not chars[i + 2].isalpha())
        ):
            continue
        keep_c.append(c)
        keep_o.append(origin[i])
    return keep_c, keep_o


class Screener:
    """Compiled rules; ``screen`` returns every hit, empty when the message may be sent."""

    def __init__(self, doc: ScreeningFile) -> None:
        self.categories = doc.categories
        compiled = []
        for spec in doc.rules:
            if spec.category not in doc.categories:
                raise ConfigurationError(f"{FILE}: rule {spec.id}: unknown category {spec.category!r}")
            try:
                regex = re.compile("|".join(f"(?:{p})" for p in spec.patterns))
            except re.error as exc:
                raise ConfigurationError(f"{FILE}: rule {spec.id}: bad pattern ({exc})") from exc
            compiled.append(_Compiled(spec, regex))
        self._rules = compiled
        neg = doc.negation
        self._window = neg.window
        self._negation = {
            "zh": re.compile("|".join(re.escape(c) for c in neg.zh)) if neg.zh else None,
            "en": re.compile(r"\b(?:" + "|".join(re.escape(c) for c in neg.en) + r")\b") if neg.en else None,
        }
        self._context = {
            "zh": re.compile("|".join(re.escape(c) for c in neg.context.zh)) if neg.context.zh else None,
            "en": re.compile("|".join(re.escape(c) for c in neg.context.en)) if neg.context.en else None,
        }

    def _negated(self, view: str, start: int, lang: str) -> bool:
        cue = self._negation[lang]
        if cue is None:
            return False
        before = view[max(0, start - self._window) : start]
        clause = _SENTENCE_END.split(before)[-1]  # only the same sentence can negate
        if cue.search(clause) is not None:
            return True
        context = self._context[lang]
        if context is None:
            return False
        sentence = _SENTENCE_END.split(view[:start])[-1] + _SENTENCE_END.split(view[start:])[0]
        return context.search(sentence) is not None

    def screen(self, text: str, audience: Audience = "debtor") -> list[Hit]:
        views = {lang: _view(text, lang) for lang in ("zh", "en")}
        hits: list[Hit] = []
        for rule in self._rules:
            if rule.spec.audience == "third_party" and audience != "third_party":
                continue
            view = views[rule.spec.lang]
            for m in rule.regex.finditer(view.text):
                if m.end() == m.start():
                    continue
                if rule.spec.negatable and self._negated(view.text, m.start(), rule.spec.lang):
                    continue
                start, end = view.origin[m.start()], view.origin[m.end() - 1] + 1
                hits.append(Hit(rule.spec.id, rule.spec.category, start, end, text[start:end]))
        hits.sort(key=lambda h: (h.start, h.rule_id))
        return hits


def parse(doc: object) -> Screener:
    try:
        return Screener(ScreeningFile.model_validate(doc))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigurationError(f"{FILE}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc


@lru_cache(maxsize=8)
def _load_cached(path: Path, mtime_ns: int) -> Screener:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{FILE}: cannot be read or is not valid YAML") from exc
    return parse(doc)


def load_screener(policies_dir: Path) -> Screener:
    """The screener for the rules file as it is now (reloaded when the file changes)."""
    path = policies_dir / FILE
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigurationError(f"{FILE}: cannot be read") from exc
    return _load_cached(path, mtime)
