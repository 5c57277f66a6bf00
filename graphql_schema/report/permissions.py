"""Who may run, export and define reports.

Reports are aggregates for the people who run the department (admin) and for those
who check it (auditor). Doctors work on individual women and do not get the
department's statistics through the API.
"""

from __future__ import annotations

from domain.auth.actor import Permission
from graphql_schema.permissions import any_of

RUN_REPORTS = any_of(
    Permission.ADMINISTER,
    Permission.READ_AUDIT,
    message="没有查看或导出统计报表的权限（需要管理员或审计员角色）",
)
EDIT_REPORTS = any_of(Permission.ADMINISTER, message="没有修改报表定义的权限（需要管理员角色）")
