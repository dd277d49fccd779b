from lendshield.errors import LendShieldError


class BackupFailed(LendShieldError):
    status = 500
    code = "backup-failed"
    title = "Backup failed"


class DrillRefused(LendShieldError):
    """The backup given to a drill is not a good backup; the message says why."""

    status = 400
    code = "drill-refused"
    title = "Backup refused by the restore drill"
