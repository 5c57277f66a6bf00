"""Imports every model so that `Base.metadata` is complete (Alembic, tests)."""

from domain.archive import models as archive_indexes
from domain.audit.models import AuditEvent
from domain.auth.models import ApiToken, User
from domain.correction.models import CorrectionRequest
from domain.database import Base
from domain.dictionary.models import DictionaryEntry
from domain.document.models import StoredDocument
from domain.history.models import Revision
from domain.inbound.models import InboundMessage
from domain.inspection.models import InspectionReport
from domain.job.models import BackgroundJob
from domain.lab.models import LabResult, LabResultAmendment
from domain.ops.models import JobHeartbeat
from domain.parameter.models import Parameter
from domain.patient.models import Patient
from domain.pregnancy.models import Pregnancy
from domain.push.models import PushAttempt, PushChannel, PushMapping, PushRecord
from domain.report.models import ReportDefinition, ReportDefinitionVersion
from domain.risk.models import RiskFactor
from domain.risk.proposal_models import RiskFactorProposal
from domain.ultrasound.models import UltrasoundExam
from domain.visit.models import PrenatalVisit

__all__ = [
    "ApiToken",
    "AuditEvent",
    "BackgroundJob",
    "Base",
    "CorrectionRequest",
    "DictionaryEntry",
    "InboundMessage",
    "InspectionReport",
    "JobHeartbeat",
    "LabResult",
    "LabResultAmendment",
    "Parameter",
    "Patient",
    "Pregnancy",
    "PrenatalVisit",
    "PushAttempt",
    "PushChannel",
    "PushMapping",
    "PushRecord",
    "ReportDefinition",
    "ReportDefinitionVersion",
    "Revision",
    "RiskFactor",
    "RiskFactorProposal",
    "StoredDocument",
    "UltrasoundExam",
    "User",
    "archive_indexes",
]
