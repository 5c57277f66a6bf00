from __future__ import annotations

import datetime as dt

import strawberry

from domain.patient.service import PatientInput


@strawberry.input(description="登记孕妇（register patient）的输入")
class RegisterPatientInput:
    name: str = strawberry.field(description="姓名")
    resident_id: str = strawberry.field(description="18位身份证号码（GB 11643 校验）")
    phone: str | None = strawberry.field(default=None, description="联系电话")
    address: str | None = strawberry.field(default=None, description="现住址")
    ethnicity: str | None = strawberry.field(default=None, description="民族")
    birth_date: dt.date | None = strawberry.field(
        default=None, description="出生日期；可不填，由身份证号码得出；填写时必须一致"
    )
    emr_record_no: str | None = strawberry.field(default=None, description="电子病历号")
    lis_record_no: str | None = strawberry.field(default=None, description="检验系统病人号")
    legacy_id: str | None = strawberry.field(default=None, description="旧系统编号")

    def to_domain(self) -> PatientInput:
        return PatientInput(
            name=self.name,
            resident_id=self.resident_id,
            phone=self.phone,
            address=self.address,
            ethnicity=self.ethnicity,
            birth_date=self.birth_date,
            emr_record_no=self.emr_record_no,
            lis_record_no=self.lis_record_no,
            legacy_id=self.legacy_id,
        )
