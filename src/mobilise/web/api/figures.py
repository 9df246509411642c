"""``/api/v1/figures``: the programme's headline figures (``programme.figures``), the same
ones the overview, the board report and ``mobilise report figures`` show."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.audit import json_safe
from mobilise.core.clock import SystemClock
from mobilise.programme.figures import headline
from mobilise.web.auth import db, requires

router = APIRouter(prefix="/api/v1/figures", tags=["figures"])


@router.get("")
def figures(request: Request, session: Session = Depends(db, scope="function"),
            _: Actor = Depends(requires(Role.VIEWER))) -> list[dict[str, Any]]:
    """Every headline figure: key, label, value, the text every surface shows, the day it
    holds for and its source."""
    rows = [f.row() for f in headline(session, request.app.state.settings, SystemClock())]
    return json_safe(rows)  # type: ignore[no-any-return]
