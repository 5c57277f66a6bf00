"""Who is acting, and what their roles allow."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    DOCTOR = "doctor"
    ADMIN = "admin"
    AUDITOR = "auditor"
    # 审核人: approves or rejects data-correction requests made by other users (1.18).
    APPROVER = "approver"


class Permission(enum.StrEnum):
    READ_PATIENTS = "patient:read"
    WRITE_CLINICAL = "clinical:write"
    SEE_IDENTIFIERS = "patient:identifiers"
    READ_AUDIT = "audit:read"
    ADMINISTER = "admin"
    APPROVE_CORRECTIONS = "correction:approve"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DOCTOR: frozenset(
        {Permission.READ_PATIENTS, Permission.WRITE_CLINICAL, Permission.SEE_IDENTIFIERS}
    ),
    Role.ADMIN: frozenset({Permission.READ_PATIENTS, Permission.ADMINISTER}),
    Role.AUDITOR: frozenset({Permission.READ_PATIENTS, Permission.READ_AUDIT}),
    Role.APPROVER: frozenset({Permission.READ_PATIENTS, Permission.APPROVE_CORRECTIONS}),
}


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    roles: frozenset[Role]

    @property
    def permissions(self) -> frozenset[Permission]:
        granted: set[Permission] = set()
        for role in self.roles:
            granted |= ROLE_PERMISSIONS[role]
        return frozenset(granted)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


SYSTEM = Actor(user_id=None, username="system", roles=frozenset())


def parse_roles(raw: list[str]) -> frozenset[Role]:
    return frozenset(Role(r) for r in raw if r in Role.__members__.values())
