"""A small generated Chinese corpus with planted values and hard negatives, for tests."""

from __future__ import annotations

import random

from lendshield.dlp import synthetic as syn

_FILLER = ["客户来电咨询还款事宜", "系统自动提醒", "已发送短信通知", "备注：无", "处理完毕", "等待审核", "订单号 2023120112345678901"]


def mixed_corpus(rng: random.Random, lines: int) -> str:
    out = []
    for i in range(lines):
        card = syn.bank_card(rng)
        parts = [
            f"{i:06d}",
            f"借款人：{rng.choice('王李张刘陈')}{rng.choice('伟芳娜敏静')}",
            f"身份证号：{syn.resident_id(rng)}",
            f"手机：{syn.mobile(rng)}",
            f"卡号 {card}",
            f"坏卡 {syn.corrupt_check(card)}",
            f"坏证 {syn.corrupt_check(syn.resident_id(rng))}",
            f"地址：北京市朝阳区建国路{rng.randrange(1, 300)}号",
            f"邮箱 user{i}@example.com",
            f"IP 10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            f"时间 2026-11-23 12:{rng.randrange(60):02d}:{rng.randrange(60):02d}",
            f"时间戳 {1_700_000_000_000 + rng.randrange(10**9)}",
            f"信用代码 {syn.uscc(rng)}",
            f"车牌 京A{rng.randrange(10000, 99999)}",
            rng.choice(_FILLER),
        ]
        rng.shuffle(parts)
        out.append("，".join(parts))
    return "\n".join(out) + "\n"
