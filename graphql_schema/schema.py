"""The one place that assembles the GraphQL schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import strawberry
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.tools import merge_types

from domain.settings import Settings
from graphql_schema.archive.schema import ArchiveMutation, ArchiveQuery
from graphql_schema.audit.schema import AuditQuery
from graphql_schema.correction.schema import CorrectionMutation, CorrectionQuery
from graphql_schema.dictionary.schema import DictionaryMutation, DictionaryQuery
from graphql_schema.document.schema import DocumentMutation
from graphql_schema.errors import MaskUnexpectedErrors
from graphql_schema.inbound.schema import InboundMutation, InboundQuery
from graphql_schema.inspection.schema import InspectionMutation, InspectionQuery
from graphql_schema.job.schema import JobQuery, JobSubscription
from graphql_schema.lab.schema import LabMutation
from graphql_schema.lab.types import LabResult
from graphql_schema.lab.upstream import ReportUpstreamProblems
from graphql_schema.node import NodeQuery
from graphql_schema.observe import ObserveOperation
from graphql_schema.parameter.schema import ParameterMutation, ParameterQuery
from graphql_schema.patient.schema import PatientMutation, PatientQuery
from graphql_schema.pregnancy.schema import PregnancyMutation, PregnancyQuery
from graphql_schema.push.schema import PushMutation, PushQuery, PushSubscription
from graphql_schema.report.schema import ReportMutation, ReportQuery
from graphql_schema.risk.schema import RiskMutation, RiskQuery
from graphql_schema.ultrasound.types import UltrasoundExam
from graphql_schema.viewer import ViewerQuery
from graphql_schema.visit.schema import VisitMutation

Query = merge_types(
    "Query",
    (
        NodeQuery,
        ViewerQuery,
        PatientQuery,
        PregnancyQuery,
        InboundQuery,
        RiskQuery,
        ReportQuery,
        JobQuery,
        InspectionQuery,
        ArchiveQuery,
        ParameterQuery,
        DictionaryQuery,
        CorrectionQuery,
        AuditQuery,
        PushQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        PatientMutation,
        PregnancyMutation,
        VisitMutation,
        RiskMutation,
        InboundMutation,
        LabMutation,
        ReportMutation,
        DocumentMutation,
        InspectionMutation,
        ArchiveMutation,
        ParameterMutation,
        DictionaryMutation,
        CorrectionMutation,
        PushMutation,
    ),
)
Subscription = merge_types("Subscription", (JobSubscription, PushSubscription))


def _extensions(settings: Settings) -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    limits: list[type[ASTValidationRule]] = [
        depth_rule(settings.max_query_depth, None),
        aliases_rule(settings.max_aliases),
    ]
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        ObserveOperation,
        MaskUnexpectedErrors,
        ReportUpstreamProblems,
        # The limit rules are built once: ValidationCache keys on the rule classes, and a
        # limiter made per request would bring new classes (and a cache miss) every time.
        lambda: AddValidationRules(limits),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        # Clients send the same few documents over and over: parse and validate once.
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ]
    if not settings.introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return extensions


def build_schema(settings: Settings) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Types reached only through node(id) must still be in the schema.
        types=[LabResult, UltrasoundExam],
        extensions=_extensions(settings),
    )


def export_sdl(settings: Settings | None = None) -> str:
    """The SDL committed as schema.graphql (limits do not change the SDL)."""
    probe = settings or Settings(
        data_dir=Path("."),
        database_url="sqlite://",
        secret_key="sdl-export",  # noqa: S106 (no secret is used to print the SDL)
    )
    return build_schema(probe).as_str() + "\n"
