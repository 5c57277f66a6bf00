"""Partial data from live sources: the rows that were found, plus an error per silent source.

A resolver that could not reach a live system (LIS FHIR today, the EMR and the legacy
database alike) records an `UpstreamProblem` on the context and returns what it has;
this extension adds one `UPSTREAM_UNAVAILABLE` error per problem to the response, at
the path of the field. It runs once per operation, never per field.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"


class ReportUpstreamProblems(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        problems = getattr(self.execution_context.context, "upstream_problems", None)
        if result is None or not problems:
            return
        result.errors = [
            *(result.errors or []),
            *(
                GraphQLError(
                    p.message,
                    path=list(p.path),
                    extensions={"code": UPSTREAM_UNAVAILABLE, "system": p.system},
                )
                for p in problems
            ),
        ]
