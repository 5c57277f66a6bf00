"""Everyone signed in reads the dictionary (doctors pick factors from it); administrators
edit it; administrators and auditors read its history."""

from __future__ import annotations

from domain.auth.actor import Permission
from graphql_schema.permissions import any_of

READ_DICTIONARY = any_of(
    Permission.READ_PATIENTS, Permission.ADMINISTER, message="没有查看数据字典的权限"
)
READ_HISTORY = any_of(
    Permission.ADMINISTER,
    Permission.READ_AUDIT,
    message="没有查看数据字典修改记录的权限（需要管理员或审计员角色）",
)
EDIT_DICTIONARY = any_of(Permission.ADMINISTER, message="没有修改系统设置的权限（需要管理员角色）")
