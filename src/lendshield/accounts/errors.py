from lendshield.errors import Forbidden, InvalidInput, TooManyRequests, Unauthenticated


class LoginFailed(Unauthenticated):
    code = "login-failed"
    keep_effects = True  # the failed attempt must be recorded, or throttling could be bypassed

    def __init__(self) -> None:
        # One message for an unknown login, a wrong password and a wrong code: no account oracle.
        super().__init__("the login, password or one-time code is not correct")


class LoginThrottled(TooManyRequests):
    code = "login-throttled"


class WeakPassword(InvalidInput):
    code = "weak-password"


class SessionInvalid(Unauthenticated):
    code = "session-invalid"

    def __init__(self) -> None:
        super().__init__("the session is missing, expired or revoked; sign in again")


class MfaRequired(Forbidden):
    code = "mfa-enrolment-required"
