"""Who may see and steer the 桂妇儿 push.

Doctors see their patients' records and preview what will be sent; the information
office (admin) runs the channel — retry, discard, replay, resume, mapping; auditors
read. Releasing a record held for review needs a doctor or an admin other than the
person whose change produced it.
"""

from __future__ import annotations

from domain.auth.actor import Permission
from graphql_schema.permissions import any_of

SEE_PUSH = any_of(Permission.READ_PATIENTS, message="没有查看推送记录的权限")
OPERATE_PUSH = any_of(Permission.ADMINISTER, message="没有操作推送队列的权限（需要管理员角色）")
REVIEW_PUSH = any_of(
    Permission.WRITE_CLINICAL,
    Permission.ADMINISTER,
    message="没有审核推送的权限（需要医生或管理员角色）",
)
