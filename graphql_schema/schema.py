"""The one place that assembles the GraphQL schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.tools import merge_types

from domain.settings import Settings
from graphql_schema.errors import MaskUnexpectedErrors
from graphql_schema.inbound.schema import InboundMutation, InboundQuery
from graphql_schema.lab.schema import LabMutation
from graphql_schema.lab.types import LabResult
from graphql_schema.lab.upstream import ReportUpstreamProblems
from graphql_schema.node import NodeQuery
from graphql_schema.observe import ObserveOperation
from graphql_schema.patient.schema import PatientMutation, PatientQuery
from graphql_schema.pregnancy.schema import PregnancyMutation, PregnancyQuery
from graphql_schema.risk.schema import RiskMutation, RiskQuery
from graphql_schema.ultrasound.types import UltrasoundExam
from graphql_schema.viewer import ViewerQuery
from graphql_schema.visit.schema import VisitMutation

Query = merge_types(
    "Query", (NodeQuery, ViewerQuery, PatientQuery, PregnancyQuery, InboundQuery, RiskQuery)
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
    ),
)


def _extensions(settings: Settings) -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        ObserveOperation,
        MaskUnexpectedErrors,
        ReportUpstreamProblems,
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
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
