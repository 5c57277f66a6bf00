"""The committed schema.graphql is the schema the code serves."""

from __future__ import annotations

from pathlib import Path

from graphql_schema.schema import export_sdl

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_sdl_matches_the_code() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8")

    assert export_sdl() == committed, (
        "schema.graphql is stale: run `uv run mhub schema --out schema.graphql`"
    )


def test_every_type_and_field_has_a_description() -> None:
    from graphql import (
        GraphQLEnumType,
        GraphQLInputObjectType,
        GraphQLInterfaceType,
        GraphQLObjectType,
    )

    from domain.settings import Settings
    from graphql_schema.schema import build_schema

    schema = build_schema(Settings(data_dir=Path("."), database_url="sqlite://", secret_key="x"))
    missing: list[str] = []
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in {
            "String",
            "Int",
            "Float",
            "Boolean",
            "ID",
            "Date",
            "DateTime",
        }:
            continue
        if name in {"Query", "Mutation", "Subscription"}:
            pass
        elif not gql_type.description:
            missing.append(name)
        if isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            missing += [f"{name}.{f}" for f, d in gql_type.fields.items() if not d.description]
        if isinstance(gql_type, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, d in gql_type.values.items() if not d.description]
    assert missing == []
