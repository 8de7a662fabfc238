"""Changing a person's settings, and what a change means for their readiness history."""

from __future__ import annotations

from sqlalchemy.orm import Session

from perfhub.auth.models import User
from perfhub.auth.service import validate_timezone
from perfhub.core.errors import NotFound
from perfhub.profile.schemas import MePatch
from perfhub.readiness.service import recompute
from perfhub.readings.queries import source_priority

_SETTINGS = ("name", "tz", "sleep_need_min", "source_priority")
# Settings where null is a value of its own (the sleep need: estimated from the nights), so a
# null sent is applied; a null for the others means "unchanged", like leaving the field out.
_NULLABLE = frozenset({"sleep_need_min"})


def update_profile(session: Session, user_id: int, patch: MePatch) -> User:
    """Apply the fields ``patch`` sets. A new sleep need or source priority recomputes readiness."""
    if patch.tz is not None:
        validate_timezone(patch.tz)
    me = session.get(User, user_id)
    if me is None:
        raise NotFound(f"no user with id {user_id}")
    changes = {
        name: getattr(patch, name)
        for name in _SETTINGS
        if getattr(patch, name) is not None or (name in _NULLABLE and name in patch.model_fields_set)
    }
    affects_history = ("sleep_need_min" in changes and changes["sleep_need_min"] != me.sleep_need_min) or (
        patch.source_priority is not None and patch.source_priority != list(source_priority(me))
    )
    for name, value in changes.items():
        setattr(me, name, value)
    session.flush()
    if affects_history:
        recompute(session, [me])
    return me
