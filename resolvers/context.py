"""What every resolver can reach during one request."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from domain.audit.service import AuditBuffer, ReadAudit
from domain.auth.actor import Actor, Permission
from domain.database import Database
from domain.settings import Settings
from integrations.emr.port import EmrClient, NoEmr
from integrations.legacy.database import LegacyDatabase
from integrations.legacy.service import LegacyPregnanciesLoader
from resolvers.document.loaders import HandbookDocumentsByPregnancyLoader
from resolvers.emr.loaders import EmrDiagnosesByPatientLoader
from resolvers.lab.history_loaders import LabHistoryByPatientLoader, history_providers
from resolvers.lab.loaders import (
    LabResultByIdLoader,
    LabResultCountByPatientLoader,
    LabResultPageByPatientLoader,
)
from resolvers.lab.screening_loaders import (
    AmendmentsByLabResultLoader,
    PendingProposalsByPregnancyLoader,
    ScreeningByPregnancyLoader,
)
from resolvers.patient.loaders import PatientByIdLoader
from resolvers.pregnancy.loaders import PregnanciesByPatientLoader, PregnancyByIdLoader
from resolvers.risk.loaders import RiskFactorByIdLoader, RiskFactorsByPregnancyLoader
from resolvers.ultrasound.loaders import UltrasoundExamByIdLoader, UltrasoundExamsByPregnancyLoader
from resolvers.visit.loaders import VisitByIdLoader, VisitsByPregnancyLoader


class Loaders:
    """One set of DataLoaders per request, created on first use."""

    def __init__(
        self,
        db: Database,
        audit: ReadAudit,
        settings: Settings | None = None,
        emr: EmrClient | None = None,
        legacy: LegacyDatabase | None = None,
    ) -> None:
        self._db = db
        self._audit = audit
        self._settings = settings
        self._emr = emr or NoEmr()
        self._legacy = legacy

    @cached_property
    def patient_by_id(self) -> PatientByIdLoader:
        return PatientByIdLoader(self._db, self._audit)

    @cached_property
    def pregnancy_by_id(self) -> PregnancyByIdLoader:
        return PregnancyByIdLoader(self._db, self._audit)

    @cached_property
    def pregnancies_by_patient(self) -> PregnanciesByPatientLoader:
        return PregnanciesByPatientLoader(self._db)

    @cached_property
    def visits_by_pregnancy(self) -> VisitsByPregnancyLoader:
        return VisitsByPregnancyLoader(self._db)

    @cached_property
    def visit_by_id(self) -> VisitByIdLoader:
        return VisitByIdLoader(self._db)

    @cached_property
    def risk_factors_by_pregnancy(self) -> RiskFactorsByPregnancyLoader:
        return RiskFactorsByPregnancyLoader(self._db)

    @cached_property
    def risk_factor_by_id(self) -> RiskFactorByIdLoader:
        return RiskFactorByIdLoader(self._db)

    @cached_property
    def lab_page_by_patient(self) -> LabResultPageByPatientLoader:
        return LabResultPageByPatientLoader(self._db)

    @cached_property
    def lab_count_by_patient(self) -> LabResultCountByPatientLoader:
        return LabResultCountByPatientLoader(self._db)

    @cached_property
    def lab_result_by_id(self) -> LabResultByIdLoader:
        return LabResultByIdLoader(self._db)

    @cached_property
    def screening_by_pregnancy(self) -> ScreeningByPregnancyLoader:
        return ScreeningByPregnancyLoader(self._db)

    @cached_property
    def proposals_by_pregnancy(self) -> PendingProposalsByPregnancyLoader:
        return PendingProposalsByPregnancyLoader(self._db)

    @cached_property
    def amendments_by_lab_result(self) -> AmendmentsByLabResultLoader:
        return AmendmentsByLabResultLoader(self._db)

    @cached_property
    def lab_history(self) -> LabHistoryByPatientLoader:
        return LabHistoryByPatientLoader(history_providers(self._db, self._settings, self._legacy))

    @cached_property
    def legacy_pregnancies(self) -> LegacyPregnanciesLoader:
        return LegacyPregnanciesLoader(self._db, self._legacy)

    @cached_property
    def ultrasound_by_pregnancy(self) -> UltrasoundExamsByPregnancyLoader:
        return UltrasoundExamsByPregnancyLoader(self._db)

    @cached_property
    def ultrasound_by_id(self) -> UltrasoundExamByIdLoader:
        return UltrasoundExamByIdLoader(self._db)

    @cached_property
    def emr_diagnoses_by_patient(self) -> EmrDiagnosesByPatientLoader:
        return EmrDiagnosesByPatientLoader(self._emr)

    @cached_property
    def handbook_documents_by_pregnancy(self) -> HandbookDocumentsByPregnancyLoader:
        return HandbookDocumentsByPregnancyLoader(self._db)


@dataclass(frozen=True)
class UpstreamProblem:
    """A live source (EMR, LIS, legacy database) that did not answer: reported as an UPSTREAM_UNAVAILABLE
    error beside the partial data, at the path of the field that missed it."""

    system: str
    message: str
    path: tuple[str | int, ...]


class OperationObserver(Protocol):
    """Receives the outcome of each GraphQL operation (metrics)."""

    def observe(self, operation: str, kind: str, seconds: float, errors: int) -> None: ...


class _Ignore:
    def observe(self, operation: str, kind: str, seconds: float, errors: int) -> None:
        return None


@dataclass
class Context:
    db: Database
    settings: Settings
    actor: Actor | None
    request_id: str
    audit_buffer: AuditBuffer
    read_audit: ReadAudit = field(default_factory=ReadAudit)
    observer: OperationObserver = field(default_factory=_Ignore)
    upstream_problems: list[UpstreamProblem] = field(default_factory=list)
    # The process's EMR (api.services.Services.emr); none configured unless given.
    emr: EmrClient = field(default_factory=NoEmr)
    # The process's legacy database (api.services.Services.legacy); None when not configured.
    legacy: LegacyDatabase | None = None

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.db, self.read_audit, self.settings, self.emr, self.legacy)

    @property
    def acting(self) -> Actor:
        """The signed-in actor; fields that write are guarded by permission classes first."""
        if self.actor is None:
            raise PermissionError("no signed-in user")
        return self.actor

    @property
    def reveals_identifiers(self) -> bool:
        return self.actor is not None and self.actor.can(Permission.SEE_IDENTIFIERS)
