"""The dashboard's pages, one module per page."""

from __future__ import annotations

from fastapi import APIRouter

from tradewarden.web.routes import login, orders, overview, settings, strategies

ROUTERS: tuple[APIRouter, ...] = (login.router, overview.router, orders.router,
                                  strategies.router, settings.router)
