"""Who may see and run inspections: administrators run them and read the reports;
auditors read the reports (1.24: the report is evidence of the maintenance done)."""

from __future__ import annotations

from domain.auth.actor import Permission
from graphql_schema.permissions import any_of

READ_INSPECTIONS = any_of(
    Permission.ADMINISTER,
    Permission.READ_AUDIT,
    message="没有查看巡检报告的权限（需要管理员或审计员角色）",
)
RUN_INSPECTIONS = any_of(Permission.ADMINISTER, message="没有发起巡检的权限（需要管理员角色）")
