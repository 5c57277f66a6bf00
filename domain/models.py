"""Imports every model so that `Base.metadata` is complete (Alembic, tests)."""

from domain.audit.models import AuditEvent
from domain.auth.models import ApiToken, User
from domain.database import Base
from domain.dictionary.models import DictionaryEntry
from domain.history.models import Revision
from domain.inbound.models import InboundMessage
from domain.lab.models import LabResult, LabResultAmendment
from domain.ops.models import JobHeartbeat
from domain.parameter.models import Parameter
from domain.patient.models import Patient
from domain.pregnancy.models import Pregnancy
from domain.risk.models import RiskFactor
from domain.risk.proposal_models import RiskFactorProposal
from domain.ultrasound.models import UltrasoundExam
from domain.visit.models import PrenatalVisit

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "DictionaryEntry",
    "InboundMessage",
    "JobHeartbeat",
    "LabResult",
    "LabResultAmendment",
    "Parameter",
    "Patient",
    "Pregnancy",
    "PrenatalVisit",
    "Revision",
    "RiskFactor",
    "RiskFactorProposal",
    "UltrasoundExam",
    "User",
]
