"""The dashboard's pages, one module per page."""

from __future__ import annotations

from fastapi import APIRouter

from tradewarden.web.routes import (
    brokers,
    login,
    notifications,
    orders,
    overview,
    settings,
    strategies,
    trades,
)

ROUTERS: tuple[APIRouter, ...] = (login.router, overview.router, orders.router, trades.router,
                                  strategies.router, notifications.router, settings.router,
                                  brokers.router)
