"""The interactive API documentation, served only when PROPOSAL_ROUTER_API_DOCS is on, from local files.

The schema and the page are open to anyone who can reach the service (they need no key), so they are off by
default. FastAPI's own /docs page loads Swagger UI from a CDN, which an offline network cannot reach; the
files come from the fastapi-offline package instead (Swagger UI 5, which reads the OpenAPI 3.1 schema that
FastAPI writes; swagger-ui-bundle still ships Swagger UI 4, which cannot).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

OPENAPI_URL = "/openapi.json"
DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"


def install_docs(app: FastAPI) -> None:
    """Serve /docs with Swagger UI's script, style and icon from ASSETS_URL (the app's openapi_url is set)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title} 接口文档",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no call to the online schema validator either
        )
