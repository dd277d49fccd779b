from lendshield.errors import Conflict, Forbidden, NotFound, RecordedRefusal


class DeviceNotFound(NotFound):
    code = "device-not-found"

    def __init__(self) -> None:
        super().__init__("no such device")


class PreconditionFailed(RecordedRefusal):
    """A lock or restriction refused by a precondition; the refusal is kept in the ledger."""

    status = 409
    code = "device-precondition"


class ApprovalRefused(Forbidden):
    code = "approval-refused"


class RequestClosed(Conflict):
    code = "request-closed"


class DeviceConsentRequired(Conflict):
    """No live consent to the current device notice (PIPL Arts. 14, 15, 17): nothing is enrolled or sent."""

    code = "device-consent-required"
    title = "Consent to the device notice required"
