"""Protection of the GraphQL endpoint: depth, alias and token limits, bad requests, error masking."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

import resolvers.patient.queries
from api.app import create_app
from domain.settings import Settings
from tests.conftest import Api
from tests.helpers import book, register

INTROSPECTION = "query Intro { __schema { queryType { name } } }"
TYPE_INTROSPECTION = 'query T { __type(name: "Patient") { name } }'


def nested(levels: int) -> str:
    """`node` then `levels` alternating pregnancies/patient fields: depth = levels + 1."""
    inner = "id"
    for level in reversed(range(levels)):
        inner = f"{'pregnancies' if level % 2 == 0 else 'patient'} {{ {inner} }}"
    return "query Deep($id: ID!) { node(id: $id) { ... on Patient { " + inner + " } } }"


def aliases(count: int) -> str:
    return "query Many { " + " ".join(f"a{i}: viewer {{ username }}" for i in range(count)) + " }"


def risk_color_list(values: int) -> str:
    """A valid query of exactly `values + 16` lexical tokens."""
    colors = " ".join(["GREEN"] * values)
    return "{ pregnancies(filter: {riskColors: [" + colors + "]}) { totalCount } }"


def assert_spec_errors(body: dict[str, Any]) -> None:
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors
    for error in errors:
        assert isinstance(error["message"], str)
        assert error["message"]
        for location in error.get("locations", []):
            assert set(location) == {"line", "column"}
            assert location["line"] >= 1
            assert location["column"] >= 1


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, run_jobs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def gql_on(client: httpx.AsyncClient, token: str, query: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- depth ------------------------------------------------------------------------------------


async def test_query_of_depth_twelve_is_answered(api: Api) -> None:
    patient = await register(api, 1)
    pregnancy = await book(api, patient)

    body = await api.gql(nested(11), {"id": patient})

    assert "errors" not in body
    level: Any = body["data"]["node"]
    for step in range(11):
        level = level["pregnancies"][0] if step % 2 == 0 else level["patient"]
    assert level == {"id": pregnancy["id"]}


async def test_query_deeper_than_twelve_is_refused_before_execution(api: Api) -> None:
    patient = await register(api, 1)
    await book(api, patient)
    await api.flush_audit()

    body = await api.gql(nested(12), {"id": patient})
    await api.flush_audit()

    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == [
        "'Deep' exceeds maximum operation depth of 12"
    ]
    assert_spec_errors(body)


# --- aliases ----------------------------------------------------------------------------------


async def test_thirty_aliases_are_allowed(api: Api) -> None:
    body = await api.gql(aliases(30))

    assert "errors" not in body
    assert body["data"] == {f"a{i}": {"username": "doctor"} for i in range(30)}


async def test_thirty_one_aliases_are_refused(api: Api) -> None:
    body = await api.gql(aliases(31))

    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == ["31 aliases found. Allowed: 30"]


async def test_aliases_hidden_in_a_fragment_spread_several_times_are_counted(api: Api) -> None:
    fragment = (
        "fragment Ten on Query { "
        + " ".join(f"f{i}: viewer {{ username }}" for i in range(10))
        + " }"
    )
    once = await api.gql(fragment + " query Once { ...Ten }")
    four_times = await api.gql(fragment + " query Trick { ...Ten ...Ten ...Ten ...Ten }")

    assert "errors" not in once
    assert four_times["data"] is None
    assert [e["message"] for e in four_times["errors"]] == ["40 aliases found. Allowed: 30"]


async def test_aliases_in_nested_fragments_are_counted(api: Api) -> None:
    leaf = (
        "fragment Leaf on Query { "
        + " ".join(f"l{i}: viewer {{ username }}" for i in range(8))
        + " }"
    )
    middle = "fragment Middle on Query { ...Leaf ...Leaf }"
    query = leaf + " " + middle + " query Nested { ...Middle ...Middle }"

    body = await api.gql(query)

    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == ["32 aliases found. Allowed: 30"]


# --- tokens -----------------------------------------------------------------------------------


async def test_query_of_exactly_five_thousand_tokens_is_answered(api: Api) -> None:
    body = await api.gql(risk_color_list(5000 - 16))

    assert body == {"data": {"pregnancies": {"totalCount": 0}}}


async def test_query_of_more_than_five_thousand_tokens_is_refused(api: Api) -> None:
    body = await api.gql(risk_color_list(5000 - 15))

    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == [
        "Syntax Error: Document contains more than 5000 tokens. Parsing aborted."
    ]
    assert_spec_errors(body)


async def test_limits_come_from_the_settings(api: Api, settings: Settings) -> None:
    tight = dataclasses.replace(settings, max_query_depth=2, max_aliases=2, max_tokens=40)
    async with app_client(tight) as client:
        token = api.tokens["doctor"]
        shallow = await gql_on(client, token, "{ viewer { username } }")
        deep = await gql_on(client, token, "query D { patients { edges { node { id } } } }")
        many = await gql_on(client, token, aliases(3))
        long = await gql_on(client, token, risk_color_list(25))

    assert shallow == {"data": {"viewer": {"username": "doctor"}}}
    assert [e["message"] for e in deep["errors"]] == ["'D' exceeds maximum operation depth of 2"]
    assert [e["message"] for e in many["errors"]] == ["3 aliases found. Allowed: 2"]
    assert [e["message"] for e in long["errors"]] == [
        "Syntax Error: Document contains more than 40 tokens. Parsing aborted."
    ]


# --- malformed requests -----------------------------------------------------------------------


async def test_malformed_graphql_is_a_syntax_error_not_a_crash(api: Api) -> None:
    for query in ["{ patients(", "{", "query {", "}}}", "query Q($x: ) { viewer { username } }"]:
        response = await api.client.post(
            "/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {api.tokens['doctor']}"},
        )
        assert response.status_code in (200, 400), query
        body = response.json()
        assert body.get("data") is None, query
        assert_spec_errors(body)
        assert body["errors"][0]["message"].startswith("Syntax Error:"), query


async def test_unknown_field_is_a_validation_error(api: Api) -> None:
    body = await api.gql("query Q { nope }")

    assert body["data"] is None
    assert_spec_errors(body)
    assert [e["message"] for e in body["errors"]] == [
        "Cannot query field 'nope' on type 'Query'. Did you mean 'node'?"
    ]
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 11}]


async def test_unknown_argument_and_wrong_variable_type_are_validation_errors(api: Api) -> None:
    unknown_argument = await api.gql("{ patients(colour: 1) { totalCount } }")
    wrong_variable = await api.gql(
        "query Q($first: Int) { patients(first: $first) { totalCount } }", {"first": "ten"}
    )

    assert unknown_argument["data"] is None
    assert (
        unknown_argument["errors"][0]["message"]
        == "Unknown argument 'colour' on field 'Query.patients'."
    )
    assert wrong_variable["data"] is None
    assert [e["message"] for e in wrong_variable["errors"]] == [
        "Variable '$first' has invalid value: Int cannot represent non-integer value: 'ten'"
    ]


BAD_BODIES = [
    ("application/json", b"not json", "Unable to parse request body as JSON"),
    ("application/json", b'{"query": ', "Unable to parse request body as JSON"),
    (
        "application/json",
        b'{"query": 5}',
        "The GraphQL operation's `query` must be a string or null, if provided.",
    ),
    ("application/json", b'{"variables": {}}', "No GraphQL query found in the request"),
    (
        "application/json",
        b'{"query": "{ viewer { username } }", "variables": [1]}',
        "The GraphQL operation's `variables` must be an object or null, if provided.",
    ),
    ("application/json", b'[{"query": "{ viewer { username } }"}]', "Batching is not enabled"),
    ("text/plain", b"{ viewer { username } }", "Unsupported content type"),
    ("application/x-www-form-urlencoded", b"query=%7B__typename%7D", "Unsupported content type"),
]


async def test_bad_request_body_is_400_not_500(api: Api) -> None:
    for content_type, content, expected in BAD_BODIES:
        response = await api.client.post(
            "/graphql",
            content=content,
            headers={
                "Content-Type": content_type,
                "Authorization": f"Bearer {api.tokens['doctor']}",
            },
        )
        assert (response.status_code, response.text) == (400, expected), content


# --- introspection ----------------------------------------------------------------------------


async def test_introspection_works_by_default(api: Api) -> None:
    schema = await api.gql(INTROSPECTION, as_user=None)
    named = await api.gql(TYPE_INTROSPECTION, as_user=None)

    assert schema == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    assert named == {"data": {"__type": {"name": "Patient"}}}


async def test_introspection_is_refused_when_disabled(api: Api, settings: Settings) -> None:
    closed = dataclasses.replace(settings, introspection=False)
    async with app_client(closed) as client:
        token = api.tokens["doctor"]
        schema = await gql_on(client, token, INTROSPECTION)
        named = await gql_on(client, token, TYPE_INTROSPECTION)
        ordinary = await gql_on(client, token, "query Me { __typename viewer { username } }")

    assert schema["data"] is None
    assert [e["message"] for e in schema["errors"]] == [
        "GraphQL introspection has been disabled, but the requested query contained the field '__schema'.",
        "GraphQL introspection has been disabled, but the requested query contained the field 'queryType'.",
    ]
    assert named["data"] is None
    assert [e["message"] for e in named["errors"]] == [
        "GraphQL introspection has been disabled, but the requested query contained the field '__type'."
    ]
    assert ordinary == {"data": {"__typename": "Query", "viewer": {"username": "doctor"}}}


# --- masking of unexpected errors -------------------------------------------------------------


SECRET = "connection to 10.0.0.5 refused: password authentication failed for user mhub"


async def test_unexpected_error_is_masked_with_the_request_id(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_count(*args: object, **kwargs: object) -> int:
        raise RuntimeError(SECRET)

    await register(api, 1)
    monkeypatch.setattr(resolvers.patient.queries, "patients_count", broken_count)

    response = await api.client.post(
        "/graphql",
        json={"query": "query Count { patients { totalCount edges { node { name } } } }"},
        headers={
            "Authorization": f"Bearer {api.tokens['doctor']}",
            "X-Request-ID": "mask-req-42",
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "服务器内部错误，请联系管理员并提供请求编号 mask-req-42",
            "locations": [{"line": 1, "column": 26}],
            "path": ["patients", "totalCount"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "mask-req-42"},
        }
    ]
    assert SECRET not in response.text
    assert "RuntimeError" not in response.text
    assert "10.0.0.5" not in response.text


async def test_masked_error_names_the_generated_request_id(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_count(*args: object, **kwargs: object) -> int:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(resolvers.patient.queries, "patients_count", broken_count)

    response = await api.client.post(
        "/graphql",
        json={"query": "{ patients { totalCount } }"},
        headers={"Authorization": f"Bearer {api.tokens['doctor']}"},
    )

    request_id = response.headers["x-request-id"]
    error = response.json()["errors"][0]
    assert error["message"] == f"服务器内部错误，请联系管理员并提供请求编号 {request_id}"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert SECRET not in response.text


async def test_deliberate_errors_are_not_masked(api: Api) -> None:
    forbidden = await api.gql("{ patients { totalCount } }", as_user=None)
    bad_input = await api.gql('{ patients(after: "nonsense") { totalCount } }')

    assert forbidden["errors"][0]["message"] == "需要登录：请使用会话或 Bearer 令牌"
    assert forbidden["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert bad_input["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "服务器内部错误" not in bad_input["errors"][0]["message"]
