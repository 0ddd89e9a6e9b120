"""``/api/health``: does the server's database answer? (no key needed)"""

from __future__ import annotations

from fastapi import APIRouter

from kaiten_analytics.api import models
from kaiten_analytics.api.auth import Handle
from kaiten_analytics.api.problems import responses

router = APIRouter(tags=["health"])


@router.get("/api/health", operation_id="health", response_model=models.Health,
            responses=responses(503))
def health(kaiten: Handle) -> models.Health:
    """200 ``{"status": "ok"}`` while the database answers, else 503."""
    kaiten.ping()
    return models.Health(status="ok")
