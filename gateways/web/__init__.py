"""The web dashboard for supervisors, inspectors, officers and citizens (served at `/`)."""

from fastapi import APIRouter

from gateways.web import live, pages

router = APIRouter()
router.include_router(pages.router)
router.include_router(live.router)

__all__ = ["router"]
