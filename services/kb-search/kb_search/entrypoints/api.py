"""The kb-search HTTP API: search, suggest, deflect, sections and articles for every signed-in user;
publish, update and retire articles, and create, change and retire sections, for editors (role
`editor` or `agent`); feedback for anyone signed in. The routes live by role in `search_routes`,
`section_routes` and `article_routes`; what they depend on in `deps`."""

from __future__ import annotations

from fastapi import APIRouter

from kb_search.entrypoints import article_routes, search_routes, section_routes
from shared.edge import BodyLimit, RouteRule

MAX_BODY_BYTES = 512 * 1024

# For the HTTP edge, which refuses a larger body before reading it: an article's Markdown is long.
# Every other body (deflect, sections, feedback) has the edge's default JSON cap.
BODY_LIMITS = (BodyLimit(RouteRule("POST PUT", "/api/v1/kb/articles{rest:path}"), MAX_BODY_BYTES),)

router = APIRouter()
router.include_router(search_routes.router)
router.include_router(section_routes.router)
router.include_router(article_routes.router)
