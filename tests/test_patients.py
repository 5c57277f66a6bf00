"""Registering and searching patients through GraphQL."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.helpers import REGISTER, count_rows, patient_input, register, resident_id

SEARCH = """
query Search($search: String, $first: Int, $after: String) {
  patients(search: $search, first: $first, after: $after) {
    totalCount
    edges { cursor node { name residentId phone } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


async def test_register_patient_derives_birth_date_and_initials(api: Api) -> None:
    body = await api.gql(REGISTER, {"input": patient_input(7)})

    payload = body["data"]["registerPatient"]
    assert payload["userErrors"] == []
    patient = payload["patient"]
    assert patient["name"] == "黄丽萍"
    assert patient["nameInitials"] == "HLP"
    assert patient["residentId"] == resident_id(7)
    assert patient["birthDate"] == "1994-05-17"
    assert patient["phone"] == "13877100007"
    assert patient["identifiersMasked"] is False


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        (
            {"residentId": resident_id(1)[:17] + ("0" if resident_id(1)[17] != "0" else "1")},
            "residentId",
            "INVALID_CHECK_DIGIT",
        ),
        ({"residentId": "45010319940517123"}, "residentId", "INVALID_FORMAT"),
        ({"residentId": "990103199405171234"}, "residentId", "INVALID_REGION"),
        ({"residentId": "450103199402301230"}, "residentId", "INVALID_BIRTH_DATE"),
        ({"birthDate": "1994-05-18"}, "birthDate", "MISMATCH"),
        ({"phone": "12345"}, "phone", "INVALID_FORMAT"),
        ({"name": "   "}, "name", "REQUIRED"),
        ({"name": "张" * 65}, "name", "TOO_LONG"),
        ({"address": "路" * 257}, "address", "TOO_LONG"),
    ],
)
async def test_bad_patient_input_is_refused_and_nothing_is_written(
    api: Api, overrides: dict[str, str], field: str, code: str
) -> None:
    body = await api.gql(REGISTER, {"input": patient_input(1, **overrides)})

    payload = body["data"]["registerPatient"]
    assert payload["patient"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)]
    assert payload["userErrors"][0]["message"]
    assert await count_rows(api, "patient") == 0


async def test_same_resident_id_twice_is_a_duplicate(api: Api) -> None:
    await register(api, 3)

    body = await api.gql(REGISTER, {"input": patient_input(3, phone="13900000000")})

    errors = body["data"]["registerPatient"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [("residentId", "DUPLICATE")]
    assert await count_rows(api, "patient") == 1


async def test_search_matches_name_initials_resident_id_and_phone(api: Api) -> None:
    await register(api, 1, name="黄丽萍")
    await register(api, 2, name="欧阳娜娜", phone="13988880002")
    await register(api, 3, name="莫小燕", phone="13677770003")

    async def names(term: str) -> list[str]:
        body = await api.gql(SEARCH, {"search": term})
        return sorted(e["node"]["name"] for e in body["data"]["patients"]["edges"])

    assert await names("丽萍") == ["黄丽萍"]
    assert await names("oynn") == ["欧阳娜娜"]
    assert await names("MXY") == ["莫小燕"]
    assert await names(resident_id(2)) == ["欧阳娜娜"]
    assert await names(resident_id(3)[-4:]) == ["莫小燕"]
    assert await names("13677770003") == ["莫小燕"]
    assert await names("不存在的人") == []


async def test_patients_are_paged_with_cursors_and_total_count(api: Api) -> None:
    for sequence in range(1, 6):
        await register(api, sequence)

    first = (await api.gql(SEARCH, {"first": 2}))["data"]["patients"]
    second = (await api.gql(SEARCH, {"first": 2, "after": first["pageInfo"]["endCursor"]}))["data"][
        "patients"
    ]
    third = (await api.gql(SEARCH, {"first": 2, "after": second["pageInfo"]["endCursor"]}))["data"][
        "patients"
    ]

    assert first["totalCount"] == 5
    seen = [e["node"]["residentId"] for page in (first, second, third) for e in page["edges"]]
    assert seen == [resident_id(s) for s in (5, 4, 3, 2, 1)]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "endCursor": first["edges"][-1]["cursor"],
    }
    assert third["pageInfo"]["hasNextPage"] is False


async def test_bad_cursor_and_oversized_page_are_bad_input(api: Api) -> None:
    bad_cursor = await api.gql(SEARCH, {"after": "not-a-cursor"})
    too_many = await api.gql(SEARCH, {"first": 5000})

    assert bad_cursor["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_identifiers_are_masked_for_roles_that_may_not_see_them(api: Api) -> None:
    await register(api, 9, phone="13877100009")

    as_admin = (await api.gql(SEARCH, {}, as_user="admin"))["data"]["patients"]["edges"][0]["node"]
    as_doctor = (await api.gql(SEARCH, {}, as_user="doctor"))["data"]["patients"]["edges"][0][
        "node"
    ]

    rid = resident_id(9)
    assert as_doctor["residentId"] == rid
    assert as_admin["residentId"] == rid[:6] + "********" + rid[-4:]
    assert as_admin["phone"] == "138****0009"


async def test_anonymous_callers_read_no_patient_data(api: Api) -> None:
    await register(api, 1)

    body = await api.gql(
        "{ patients(first: 5) { totalCount edges { node { id name } } } }", as_user=None
    )

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_roles_without_write_permission_cannot_register(api: Api) -> None:
    body = await api.gql(REGISTER, {"input": patient_input(1)}, as_user="auditor")

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count_rows(api, "patient") == 0
