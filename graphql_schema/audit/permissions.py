"""The audit log is read by auditors (审计员) only."""

from __future__ import annotations

from domain.auth.actor import Permission
from graphql_schema.permissions import any_of

READ_AUDIT = any_of(Permission.READ_AUDIT, message="没有查看审计日志的权限（需要审计员角色）")
