"""Indexes for the administration searches: the archive (a million archived pregnancies
answered in under 100 ms on PostgreSQL) and the audit viewer.

They belong to the `patient`, `pregnancy` and `audit_event` tables but exist for these
searches (`domain/archive/service.py`, `resolvers/audit/queries.py`), so they are declared
here. PostgreSQL gets GIN indexes (pg_trgm for name substrings, jsonb_path_ops for patient
ids); SQLite keeps empty partial indexes of the same names, so both databases carry the
same index list.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, text

from domain.audit.models import AuditEvent
from domain.patient.models import Patient
from domain.pregnancy.models import Pregnancy

# Substring search on names (LIKE '%…%' with three or more characters, and anchored
# LIKE for shorter ones) through trigrams. SQLite keeps an empty partial index of the
# same name, so that both databases carry the same index list.
PATIENT_NAME_TRIGRAMS = Index(
    "ix_patient_name_trgm",
    Patient.name,
    postgresql_using="gin",
    postgresql_ops={"name": "gin_trgm_ops"},
    sqlite_where=text("0"),
)
# Identifier and name prefixes with the patient's id beside them: a dense prefix (a
# surname, two initials, the region and year of a resident ID) is matched and joined from
# the index alone, without visiting the table row of each of thousands of women.
PATIENT_SEARCH_KEYS = tuple(
    Index(f"ix_patient_search_{column.key}", column, Patient.id)
    for column in (Patient.name, Patient.name_initials, Patient.resident_id, Patient.phone)
)
# Names of four or more characters (compound surnames, minority names): the only ones in
# which a two-character term can sit strictly inside; a small partial index.
PATIENT_LONG_NAMES = Index(
    "ix_patient_long_name",
    Patient.id,
    postgresql_where=text("char_length(name) >= 4"),
    sqlite_where=text("length(name) >= 4"),
)
# Archived pregnancies only, carrying what the search filters and returns (id, the woman,
# the dates), so that matching and counting read the index alone (index-only scans).
_ARCHIVED: dict[str, Any] = {
    "postgresql_where": text("status = 'ARCHIVED'"),
    "sqlite_where": text("status = 'ARCHIVED'"),
}
# Newest archived first without stepping over the newest pregnancies, which are in care.
PREGNANCY_ARCHIVED_BY_ID = Index(
    "ix_pregnancy_archived_id",
    Pregnancy.id,
    postgresql_include=["patient_id", "delivered_on", "archived_at"],
    **_ARCHIVED,
)
PREGNANCY_ARCHIVED_BY_PATIENT = Index(
    "ix_pregnancy_archived_patient",
    Pregnancy.patient_id,
    Pregnancy.id,
    postgresql_include=["delivered_on", "archived_at"],
    **_ARCHIVED,
)
PREGNANCY_ARCHIVED_BY_DELIVERY = Index(
    "ix_pregnancy_archived_delivered",
    Pregnancy.delivered_on,
    Pregnancy.id,
    postgresql_include=["patient_id"],
    **_ARCHIVED,
)
PREGNANCY_ARCHIVED_AT = Index(
    "ix_pregnancy_archived_at",
    Pregnancy.archived_at,
    Pregnancy.id,
    postgresql_include=["patient_id"],
    **_ARCHIVED,
)
# The audit viewer filters by who acted and by the patients concerned.
AUDIT_EVENT_USERNAME = Index("ix_audit_event_username", AuditEvent.username, AuditEvent.at)
AUDIT_EVENT_PATIENTS = Index(
    "ix_audit_event_patient_ids",
    AuditEvent.patient_ids,
    postgresql_using="gin",
    postgresql_ops={"patient_ids": "jsonb_path_ops"},
    sqlite_where=text("0"),
)
