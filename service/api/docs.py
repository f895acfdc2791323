"""/docs (Swagger UI) and /redoc with their scripts served by the service itself, so they work offline.

The assets come from the pinned `fastapi-offline` package (its static folder holds swagger-ui and redoc
bundles); nothing is fetched from a CDN or from Google Fonts, and the pages' Content-Security-Policy keeps
ReDoc from fetching its badge.
"""

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from service.api.deps import CSP_HEADERS

DOCS_ASSETS_PATH = "/docs-assets"
DOCS_ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))

router = APIRouter(include_in_schema=False)


def _asset(request: Request, name: str) -> str:
    return f"{request.scope.get('root_path', '')}{DOCS_ASSETS_PATH}/{name}"


def _openapi_url(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}{request.app.openapi_url}"


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers.update(CSP_HEADERS)
    return page


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return _local_only(
        get_swagger_ui_html(
            openapi_url=_openapi_url(request),
            title=f"{request.app.title} - Swagger UI",
            swagger_js_url=_asset(request, "swagger-ui-bundle.js"),
            swagger_css_url=_asset(request, "swagger-ui.css"),
            swagger_favicon_url=_asset(request, "favicon.png"),
            # No badge from the public swagger.io validator: the page makes no outside request.
            swagger_ui_parameters={"validatorUrl": None},
        )
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return _local_only(
        get_redoc_html(
            openapi_url=_openapi_url(request),
            title=f"{request.app.title} - ReDoc",
            redoc_js_url=_asset(request, "redoc.standalone.js"),
            redoc_favicon_url=_asset(request, "favicon.png"),
            with_google_fonts=False,
        )
    )
