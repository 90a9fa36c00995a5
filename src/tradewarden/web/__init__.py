"""The web dashboard served at ``/``: server-rendered Jinja2 pages, small hand-written JS/CSS.

``install(app)`` mounts the static files, the pages and their error handling on the API app.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def install(app: FastAPI) -> None:
    # imported here: ``services`` imports ``web.live``/``web.sessions``, and the pages import
    # ``services`` — loading them with the package would be circular
    from tradewarden.web.errors import install_handlers
    from tradewarden.web.render import STATIC_DIR
    from tradewarden.web.routes import ROUTERS
    from tradewarden.web.signin import LoginLimiter

    app.state.login_limiter = LoginLimiter()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
    install_handlers(app)
