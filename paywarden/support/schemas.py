from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from paywarden.kit.casing import RequestModel
from paywarden.kit.time import iso
from paywarden.support.service import Support

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
Template = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Templates = Annotated[list[Template], Field(max_length=20)]


class SupportSettingsIn(RequestModel):
    """Any of the fields (none may be null); the others keep their values."""

    contact: Text | None = None
    working_hours: Text | None = None
    average_reply_time: Text | None = None
    reply_time_templates: Templates | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> SupportSettingsIn:
        for field in self.model_fields_set:
            if getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class SupportSettingsOut(BaseModel):
    contact: str
    working_hours: str
    average_reply_time: str
    reply_time_templates: list[str]
    updated_at: str | None  # null while never saved (the defaults)
    updated_by: str | None

    @classmethod
    def of(cls, s: Support) -> SupportSettingsOut:
        return cls(
            contact=s.contact,
            working_hours=s.working_hours,
            average_reply_time=s.average_reply_time,
            reply_time_templates=s.reply_time_templates,
            updated_at=iso(s.updated_at),
            updated_by=s.updated_by,
        )
