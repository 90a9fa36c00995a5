"""OpenAlgo-compatible endpoints (BRIEF §4.3): same paths, fields and response shapes."""

from tradewarden.api.openalgo.books import router as books_router
from tradewarden.api.openalgo.placing import router as placing_router

__all__ = ["books_router", "placing_router"]
