"""Report definitions: reading, saving (a new version each time, audited), running, exporting."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.service import record_change
from domain.auth.actor import Actor
from domain.database import Database, utcnow
from domain.document.service import save_document
from domain.errors import FieldError, NotFound, ValidationFailed
from domain.parameter.models import Parameter
from domain.report import export
from domain.report.definition import ReportSpec, parameters_from_text, parse_definition
from domain.report.engine import ReportTable, run_report
from domain.report.models import ReportDefinition, ReportDefinitionVersion

CODE = re.compile(r"^[a-z][a-z0-9_]{2,63}$")
NAME_MAX = 128
DESCRIPTION_MAX = 1000
# `stored_document.kind` of exported reports.
DOCUMENT_KIND = "REPORT"

RenderPdf = Callable[[str], Awaitable[bytes]]


@dataclass(frozen=True)
class DefinitionDraft:
    """What an administrator saves: a new report (expected_version None) or a new version."""

    code: str
    name: str
    description: str
    document: object
    active: bool = True
    expected_version: int | None = None


async def list_definitions(
    session: AsyncSession, *, include_inactive: bool = False
) -> Sequence[ReportDefinition]:
    query = select(ReportDefinition).order_by(ReportDefinition.id)
    if not include_inactive:
        query = query.where(ReportDefinition.active.is_(True))
    return (await session.scalars(query)).all()


async def get_definition(session: AsyncSession, code: str) -> ReportDefinition | None:
    return await session.scalar(select(ReportDefinition).where(ReportDefinition.code == code))


async def definition_versions(
    session: AsyncSession, definition_ids: Sequence[int]
) -> dict[int, list[ReportDefinitionVersion]]:
    """Every saved version of each definition, newest first."""
    rows = await session.scalars(
        select(ReportDefinitionVersion)
        .where(ReportDefinitionVersion.definition_id.in_(definition_ids))
        .order_by(ReportDefinitionVersion.definition_id, ReportDefinitionVersion.version.desc())
    )
    versions: dict[int, list[ReportDefinitionVersion]] = {i: [] for i in definition_ids}
    for row in rows:
        versions[row.definition_id].append(row)
    return versions


def spec_of(definition: ReportDefinition) -> ReportSpec:
    """The stored document, checked again: a source changed since it was saved is reported."""
    return parse_definition(definition.document)


def _check_draft(draft: DefinitionDraft) -> tuple[ReportSpec | None, list[FieldError]]:
    errors: list[FieldError] = []
    if not CODE.match(draft.code):
        errors.append(
            FieldError(
                "code",
                "报表编码应以小写字母开头，只含小写字母、数字和下划线，长度3到64",
                "INVALID_FORMAT",
            )
        )
    name = draft.name.strip()
    if not name:
        errors.append(FieldError("name", "报表名称不能为空", "REQUIRED"))
    elif len(name) > NAME_MAX:
        errors.append(FieldError("name", f"报表名称不能超过 {NAME_MAX} 个字", "TOO_LONG"))
    if len(draft.description) > DESCRIPTION_MAX:
        errors.append(
            FieldError("description", f"报表说明不能超过 {DESCRIPTION_MAX} 个字", "TOO_LONG")
        )
    try:
        spec: ReportSpec | None = parse_definition(draft.document)
    except ValidationFailed as exc:
        spec = None
        errors += exc.errors
    return spec, errors


async def _unknown_system_parameters(session: AsyncSession, spec: ReportSpec) -> list[FieldError]:
    wanted = {p.system_parameter: p for p in spec.parameters if p.system_parameter}
    if not wanted:
        return []
    found = set(
        (
            await session.scalars(select(Parameter.key).where(Parameter.key.in_(sorted(wanted))))
        ).all()
    )
    return [
        FieldError(
            f"definition.parameters[{spec.parameters.index(p)}].systemParameter",
            f"系统参数「{key}」不存在",
            "UNKNOWN_SYSTEM_PARAMETER",
        )
        for key, p in wanted.items()
        if key not in found
    ]


async def save_definition(db: Database, actor: Actor, draft: DefinitionDraft) -> ReportDefinition:
    """Create a report or save a new version of one; checked against the source registry.

    `expected_version` must be the version the editor started from, so two people
    editing the same report cannot overwrite each other unknowingly.
    """
    spec, errors = _check_draft(draft)
    if spec is None or errors:
        raise ValidationFailed(errors)
    async with db.transaction() as session:
        errors = await _unknown_system_parameters(session, spec)
        if errors:
            raise ValidationFailed(errors)
        existing = await session.scalar(
            select(ReportDefinition).where(ReportDefinition.code == draft.code).with_for_update()
        )
        now = utcnow()
        if draft.expected_version is None:
            if existing is not None:
                raise ValidationFailed(
                    [FieldError("code", f"报表编码「{draft.code}」已存在", "DUPLICATE")]
                )
            definition = ReportDefinition(
                code=draft.code,
                version=1,
                created_at=now,
                created_by=actor.username,
            )
            session.add(definition)
            action = "CREATE"
        else:
            if existing is None:
                raise NotFound("code", f"报表「{draft.code}」不存在")
            if existing.version != draft.expected_version:
                raise ValidationFailed(
                    [
                        FieldError(
                            "expectedVersion",
                            f"报表定义已被修改（当前为第 {existing.version} 版），请刷新后再保存",
                            "VERSION_CONFLICT",
                        )
                    ]
                )
            definition = existing
            definition.version += 1
            action = "UPDATE"
        definition.name = draft.name.strip()
        definition.description = draft.description.strip()
        definition.document = _as_dict(draft.document)
        definition.active = draft.active
        definition.updated_at = now
        definition.updated_by = actor.username
        await session.flush()
        session.add(
            ReportDefinitionVersion(
                definition_id=definition.id,
                version=definition.version,
                name=definition.name,
                description=definition.description,
                document=definition.document,
                active=definition.active,
                saved_at=now,
                saved_by=actor.username,
            )
        )
        record_change(
            session,
            actor,
            action,
            entity="report_definition",
            entity_id=definition.id,
            patient_ids=[],
            detail={"code": definition.code, "version": definition.version},
        )
    return definition


def _as_dict(document: object) -> dict[str, object]:
    if not isinstance(document, dict):
        raise TypeError("a checked definition is a JSON object")
    return dict(document)


async def run(db: Database, code: str, parameters: object, *, as_text: bool = False) -> ReportTable:
    """Run an active report by code (NotFound / ValidationFailed as data for the caller).

    With `as_text`, parameters are `key=value` strings from a command line, read as
    their declared types first.
    """
    async with db.reader() as session:
        definition = await get_definition(session, code)
        if definition is None or not definition.active:
            raise NotFound("code", f"报表「{code}」不存在或已停用")
        spec = spec_of(definition)
        if as_text and isinstance(parameters, dict):
            parameters = parameters_from_text(spec, parameters)
        return await run_report(
            session,
            code=definition.code,
            name=definition.name,
            spec=spec,
            raw_parameters=parameters,
        )


@dataclass(frozen=True)
class ExportedReport:
    document_id: int
    filename: str
    media_type: str
    size: int


async def export_report(
    db: Database,
    actor: Actor,
    code: str,
    parameters: object,
    file_format: export.ExportFormat,
    *,
    render_pdf: RenderPdf,
    now: dt.datetime | None = None,
) -> ExportedReport:
    """Run a report, render it and store the file (audited); the caller hands out a link."""
    table = await run(db, code, parameters)
    made_at = now or utcnow()
    content = await export.render(table, file_format, made_at=made_at, render_pdf=render_pdf)
    filename = export.filename(table, file_format, made_at)
    media_type = export.MEDIA_TYPES[file_format]
    async with db.transaction() as session:
        document = await save_document(
            session,
            kind=DOCUMENT_KIND,
            filename=filename,
            media_type=media_type,
            content=content,
            created_by=actor.username,
        )
        definition = await get_definition(session, code)
        record_change(
            session,
            actor,
            "EXPORT",
            entity="report_definition",
            entity_id=definition.id if definition else 0,
            patient_ids=[],
            detail={
                "code": code,
                "format": file_format.value,
                "parameters": table.parameters,
                "documentId": document.id,
            },
        )
    return ExportedReport(document.id, filename, media_type, len(content))
