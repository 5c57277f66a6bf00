"""Every GraphQL document the admin SPA sends is valid against the schema the API serves.

The SPA has no build step to catch a renamed field; this test does, without a browser:
it reads the GraphQL documents out of `admin_spa/js` (template literals and strings that
start with query / mutation / subscription, `${NAME}` resolved from the file's own
constants) and validates each one against the schema built from the code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from graphql_schema.schema import export_sdl

SPA = Path(__file__).resolve().parents[2] / "admin_spa" / "js"
CONSTANT = re.compile(r"const (\w+) = `([^`]*)`", re.S)
LITERAL = re.compile(r"`([^`]*)`|\"((?:query|mutation|subscription) [^\"]*)\"", re.S)
DOCUMENT = re.compile(r"^\s*(query|mutation|subscription)\b")
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def documents() -> list[tuple[str, str]]:
    """(where, document) for every static GraphQL document in the SPA's modules."""
    found = []
    for path in sorted(SPA.rglob("*.js")):
        source = path.read_text(encoding="utf-8")
        constants = dict(CONSTANT.findall(source))
        for match in LITERAL.finditer(source):
            text = match.group(1) if match.group(1) is not None else match.group(2)
            if not DOCUMENT.match(text):
                continue
            resolved = PLACEHOLDER.sub(lambda m, c=constants: c.get(m.group(1), m.group(0)), text)
            if "${" in resolved:  # built at run time from the schema's own field list
                continue
            line = source.count("\n", 0, match.start()) + 1
            found.append((f"{path.relative_to(SPA)}:{line}", resolved))
    return found


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(export_sdl())


def test_the_spa_documents_are_found() -> None:
    named = (re.search(r"(?:query|mutation|subscription) (\w+)", d) for _, d in documents())
    names = {m.group(1) for m in named if m}
    # A sample from every page: if the extraction broke, these would be missing.
    assert {
        "AdminViewer",
        "ArchiveSearch",
        "ArchivedRecord",
        "ReopenArchive",
        "PushRecords",
        "PushStatistics",
        "PushLive",
        "SaveRiskFactorDefinition",
        "SetParameter",
        "RequestCorrection",
        "ApproveCorrection",
        "RunReport",
        "ExportReport",
        "InspectionReports",
        "InspectionJobProgress",
        "AuditEvents",
    } <= names


@pytest.mark.parametrize("document", [pytest.param(d, id=where) for where, d in documents()])
def test_document_is_valid_against_the_schema(schema: GraphQLSchema, document: str) -> None:
    errors = validate(schema, parse(document))
    assert [e.message for e in errors] == []
