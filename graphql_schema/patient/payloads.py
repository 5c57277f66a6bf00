from __future__ import annotations

import strawberry

from graphql_schema.base import UserError
from graphql_schema.patient.types import Patient


@strawberry.type(description="登记孕妇的结果")
class RegisterPatientPayload:
    patient: Patient | None = strawberry.field(description="登记成功的孕妇；有错误时为空")
    user_errors: list[UserError] = strawberry.field(description="输入错误；为空表示成功")
