"""The device notice: what the lender can do to a financed phone, and when; and the consent to it.

The notice is a privacy notice of the consent package (a ``consent_notices`` row, PIPL Art. 17)
for the purpose ``device_management`` alone. Its text is written from the code and the
configuration: the closed command set (``protocol.Command``), what a locked phone always keeps
(``protocol.ALWAYS_AVAILABLE``) and the preconditions and approvals of ``DeviceRules``. Its version
is a digest of that text, so any change to what the notice says makes a new version, and a consent
given to the old one no longer enrols a phone (Art. 14: a change needs consent again).

A device is enrolled only while the borrower's latest decision for ``device_management`` is a
grant to the current device notice. After a withdrawal (Art. 15, at once, for the future) no
reminder, restriction or lock is requested, approved, issued or delivered for the borrower's
phones, and a locked or restricted phone is unlocked at its next check-in; unlock, release and
key rotations go on, since they only free the phone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from lendshield.consent import service as consent
from lendshield.consent.gate import latest
from lendshield.consent.models import NoticeRow
from lendshield.devices.errors import DeviceConsentRequired
from lendshield.devices.protocol import ALWAYS_AVAILABLE, Command
from lendshield.principals import Principal
from lendshield.runtime import Runtime

if TYPE_CHECKING:
    from lendshield.devices.service import DeviceRules

PURPOSE = "device_management"
PREFIX = "device-"
SCOPE = "device"  # its own notice: never the current general privacy notice
ACTIONS = (Command.REMIND, Command.RESTRICT, Command.LOCK, Command.UNLOCK, Command.RELEASE)
"""The remote actions on the phone. ``rotate_key`` changes only which platform key the phone trusts."""
RESTRAINING = frozenset({Command.REMIND, Command.RESTRICT, Command.LOCK})
"""What a withdrawal of the consent stops at once."""
ALWAYS_AVAILABLE_ZH = ("紧急呼叫", "接听来电", "贷款方的还款与联系页面", "还款所需的设置（网络、Wi-Fi、日期和时间）")
NEVER = (
    "read anything from the phone: not its location, contacts, photos, messages, call log or files",
    "wipe the phone or delete anything on it",
    "install or run any code",
    "lock or restrict on a timer or while the phone is offline (an unreachable server leaves the phone as it is)",
)
NEVER_ZH = (
    "读取手机上的任何信息：位置、通讯录、照片、短信、通话记录或文件",
    "清除手机或删除其中任何内容",
    "安装或运行任何代码",
    "定时锁定或限制，或在手机离线时锁定或限制（服务器不可达时手机保持原状）",
)

ROLE_ZH = {"collection_supervisor": "催收主管", "risk_officer": "风控专员", "device_operator": "设备操作员"}


def actions(rules: DeviceRules) -> dict[Command, tuple[str, str]]:
    """Each remote action with when it can happen, in Chinese and English (from ``DeviceRules``)."""
    days, reminders, final, roles = rules.lock_min_overdue_days, rules.reminders_required, rules.final_notice_days, rules.approver_roles
    approval_ttl = int(rules.approval_ttl.total_seconds() // 3600)
    when_en = (
        f"only when the loan is at least {days} days overdue, after at least {reminders} reminders were delivered to the phone "
        f"and at least {final} days after a final notice was delivered; never while a complaint, dispute or rights request "
        f"about the loan is open; with a reason code and a written reason from the requester and then approvals by "
        f"{len(roles)} different people in different roles ({', '.join(roles)}), none of them the requester, within "
        f"{approval_ttl} hours of the request"
    )
    when_zh = (
        f"仅当贷款逾期至少{days}天、手机已收到至少{reminders}次提醒、且最终通知送达已满{final}天；"
        f"与该贷款有关的投诉、争议或个人信息权利请求未结时一律不得进行；须由申请人写明理由代码和书面理由，"
        f"再经{len(roles)}名不同角色的不同人员（{'、'.join(ROLE_ZH.get(r, r) for r in roles)}，均非申请人）"
        f"在申请后{approval_ttl}小时内批准"
    )
    out = {
        Command.REMIND: (
            "提醒（remind）：在手机上显示还款提醒，可注明为最终通知；由催收员或设备操作员发送。",
            "remind: shows a payment reminder on the phone, which may be marked as the final notice; sent by a collector or "
            "a device operator.",
        ),
        Command.RESTRICT: (
            f"限制（restrict）：把手机限于下列始终保留的功能，并显示锁屏信息；{when_zh}。",
            f"restrict: limits the phone to the functions below that it always keeps, and shows the lock screen; {when_en}.",
        ),
        Command.LOCK: (
            f"锁定（lock）：锁定手机，只保留下列功能，并显示锁屏信息；{when_zh}。",
            f"lock: locks the phone except for the functions below, and shows the lock screen; {when_en}.",
        ),
        Command.UNLOCK: (
            "解锁（unlock）：付款使贷款恢复正常后自动进行，无需审批，通常在数秒内；撤回本同意后在手机下次联网时进行。",
            "unlock: automatic, with no approval, as soon as a payment brings the loan current (usually within seconds), "
            "and at the phone's next check-in after you withdraw this consent.",
        ),
        Command.RELEASE: (
            "解除（release）：贷款结清后自动进行，您将获得签名的解除证明，此后手机不再接受任何指令。",
            "release: automatic when the loan is paid off; you receive a signed release certificate and the phone accepts "
            "no command afterwards.",
        ),
    }
    return out


def sections(rt: Runtime, rules: DeviceRules) -> dict[str, dict[str, str]]:
    """The notice's sections: who we are, contact, rights and recipients as in the general notice;
    purposes, methods, categories and retention are the device's own."""
    base = {k: dict(v) for k, v in consent.default_draft(rt).sections.items()}
    purpose = rt.policy.purposes.by_id[PURPOSE]
    listed = actions(rules)
    zh = "\n".join(f"{i}. {text[0]}" for i, text in enumerate(listed.values(), 1))
    en = "\n".join(f"{i}. {text[1]}" for i, text in enumerate(listed.values(), 1))
    base["purposes"] = {
        "zh": (
            f"{purpose.label_zh}：在为这部手机融资的贷款存续期间，贷款方只能对手机进行以下五种远程操作，每一项都是手机会校验的签名指令，"
            f"并记入您可在时间线中核验的日志：\n{zh}\n"
            f"锁定或限制时，手机始终保留：{'；'.join(ALWAYS_AVAILABLE_ZH)}；锁屏显示贷款方联系方式、还款方式和投诉方式。\n"
            f"手机永远不会被用于：{'；'.join(NEVER_ZH)}。\n"
            "平台还可能告知手机下一把签名密钥（密钥轮换），这不改变手机的任何使用。\n"
            "撤回本同意：立即停止新的提醒、限制和锁定（未送达的也不再送达），已锁定或限制的手机在下次联网时解锁；解锁、解除照常进行。"
        ),
        "en": (
            f"{purpose.label_en}: while the loan that financed this phone is open, the lender can send the phone only these "
            f"five remote actions, each a signed command the phone checks and a record you can verify in your timeline:\n{en}\n"
            f"A locked or restricted phone always keeps: {'; '.join(ALWAYS_AVAILABLE)}; the lock screen shows the lender's "
            "contact, how to pay and how to complain.\n"
            f"The phone can never be made to: {'; '.join(NEVER)}.\n"
            "The platform may also tell the phone which signing key to trust next (a key rotation); it changes nothing in how "
            "the phone works.\n"
            "Withdrawing this consent: no new reminder, restriction or lock is sent (nor one not yet delivered), a locked or "
            "restricted phone is unlocked at its next check-in, and unlock and release go on as before."
        ),
    }
    base["methods"] = {
        "zh": (
            "手机自行生成密钥；每条指令均经签名、只对这部手机有效、会过期、按序编号不可重放，"
            "并在手机执行前已记入公开日志；手机的联网与回执也经签名并记录。"
        ),
        "en": (
            "The phone makes its own key; every command is signed, bound to this phone, expires, is numbered so it cannot "
            "be replayed, and is in the public log before the phone acts on it; the phone's check-ins and answers are signed "
            "and logged too."
        ),
    }
    base["categories"] = {
        "zh": "您的姓名和手机的IMEI（加密保存，掩码显示）。不从手机读取任何信息。",
        "en": "Your name and the phone's IMEI (kept encrypted, shown masked). Nothing is read from the phone.",
    }
    base["retention"] = {
        "zh": f"保存{purpose.retention_days}天，期满删除或匿名化；解除后手机不再受控。",
        "en": f"Kept for {purpose.retention_days} days, then deleted or anonymised; after release the phone is under no control.",
    }
    return base


_DRAFTS: dict[tuple[str, DeviceRules], consent.NoticeDraft] = {}


def draft(rt: Runtime, rules: DeviceRules) -> consent.NoticeDraft:
    """The current device notice (kept per process: it depends only on files read at start and the rules)."""
    key = (str(rt.settings.policies_dir), rules)
    made = _DRAFTS.get(key)
    if made is None:
        if len(_DRAFTS) >= 32:
            _DRAFTS.clear()
        made = _DRAFTS[key] = _draft(rt, rules)
    return made


def _draft(rt: Runtime, rules: DeviceRules) -> consent.NoticeDraft:
    purpose = rt.policy.purposes.by_id[PURPOSE]
    body = sections(rt, rules)
    fields = {PURPOSE: sorted(purpose.fields)}
    digest = consent.notice_hash(consent.render(body, fields, 0), consent.render(body, fields, 1))
    return consent.NoticeDraft(version=f"{PREFIX}{digest[:16]}", sections=body, purpose_fields=fields, scope=SCOPE)


def current_version(rt: Runtime, rules: DeviceRules) -> str:
    return draft(rt, rules).version


def ensure_published(session: Session, rt: Runtime, who: Principal, rules: DeviceRules) -> NoticeRow:
    """Publish the current device notice if it is not yet (the protection officer's act)."""
    made = draft(rt, rules)
    row = session.get(NoticeRow, made.version)
    return row if row is not None else consent.publish_notice(session, rt, who, made)


def consent_problem(session: Session, subject_id: str, versions: set[str]) -> str | None:
    """Why the person holds no live consent to one of ``versions`` of the device notice; None if they do."""
    row = latest(session, subject_id, PURPOSE, "purpose")
    if row is None:
        return "the borrower has not consented to the device notice"
    if row.action == "withdraw":
        return "the borrower withdrew their consent to the device notice"
    if row.action == "refuse":
        return "the borrower refused the device notice"
    if row.notice_version not in versions:
        return f"the borrower's consent is to notice {row.notice_version}, not to the current device notice"
    return None


def require_for_enrolment(session: Session, rt: Runtime, subject_id: str, rules: DeviceRules) -> str:
    """The current device notice version, if the borrower holds a live consent to it."""
    version = current_version(rt, rules)
    if session.get(NoticeRow, version) is None:
        raise DeviceConsentRequired(f"the current device notice {version} is not published yet", notice_version=version)
    problem = consent_problem(session, subject_id, {version})
    if problem is not None:
        raise DeviceConsentRequired(f"enrolment refused: {problem} (version {version}; PIPL Arts. 14, 15, 17)", notice_version=version)
    return version
