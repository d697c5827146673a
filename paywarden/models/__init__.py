"""All models, imported here so that Alembic and the app see one complete metadata."""

from paywarden.models.audit import AuditEntry
from paywarden.models.base import Base
from paywarden.models.operators import BackupCode, Operator, OperatorSession, TotpEnrollment

__all__ = ["AuditEntry", "BackupCode", "Base", "Operator", "OperatorSession", "TotpEnrollment"]
