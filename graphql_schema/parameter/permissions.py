"""Parameters are set by administrators; auditors may read them (they explain behaviour)."""

from __future__ import annotations

from domain.auth.actor import Permission
from graphql_schema.permissions import any_of

READ_PARAMETERS = any_of(
    Permission.ADMINISTER,
    Permission.READ_AUDIT,
    message="没有查看系统参数的权限（需要管理员或审计员角色）",
)
ADMINISTER = any_of(Permission.ADMINISTER, message="没有修改系统设置的权限（需要管理员角色）")
