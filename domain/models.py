"""Imports every model so that `Base.metadata` is complete (Alembic, tests)."""

from domain.audit.models import AuditEvent
from domain.auth.models import ApiToken, User
from domain.database import Base
from domain.dictionary.models import DictionaryEntry
from domain.history.models import Revision
from domain.lab.models import LabResult, LabResultAmendment
from domain.ops.models import JobHeartbeat
from domain.patient.models import Patient
from domain.pregnancy.models import Pregnancy
from domain.risk.models import RiskFactor
from domain.ultrasound.models import UltrasoundExam
from domain.visit.models import PrenatalVisit

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "DictionaryEntry",
    "JobHeartbeat",
    "LabResult",
    "LabResultAmendment",
    "Patient",
    "Pregnancy",
    "PrenatalVisit",
    "Revision",
    "RiskFactor",
    "UltrasoundExam",
    "User",
]
