"""Domain events carried by the EventBus: JSON with type, id, time and payload."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from receiptcore.domain.ids import new_id

EventType = Literal[
    "user.created",
    "user.roles_changed",
    "user.disabled",
    "user.tokens_revoked",
    "session.revoked",
    "role.changed",
    "receipt.uploaded",
    "receipt.extracted",
    "receipt.extraction_failed",
    "receipt.updated",
    "receipt.deleted",
]


class Event(BaseModel):
    """A domain event. ``owner_id`` (receipt events) lets subscribers filter what a user may see."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: EventType
    id: str = Field(default_factory=new_id)
    time: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    owner_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
