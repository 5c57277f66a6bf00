"""Doctors and administrators ask for corrections; approvers decide; everyone who reads
patient data, and approvers, see the requests."""

from __future__ import annotations

from domain.auth.actor import Permission
from graphql_schema.permissions import any_of

REQUEST = any_of(
    Permission.WRITE_CLINICAL,
    Permission.ADMINISTER,
    message="没有提出数据更正申请的权限（需要医生或管理员角色）",
)
DECIDE = any_of(
    Permission.APPROVE_CORRECTIONS, message="没有审核数据更正申请的权限（需要审核人角色）"
)
SEE = any_of(
    Permission.READ_PATIENTS, Permission.APPROVE_CORRECTIONS, message="没有查看数据更正申请的权限"
)
