from lendshield.errors import Conflict, InvalidInput, Unauthenticated


class InvalidToken(Unauthenticated):
    code = "invalid-token"

    def __init__(self) -> None:
        # One message for unknown, wrong, revoked and expired tokens: no oracle.
        super().__init__("the bearer token is missing, invalid, revoked or expired")


class PrincipalExists(Conflict):
    code = "principal-exists"


class UnknownRole(InvalidInput):
    code = "unknown-role"
