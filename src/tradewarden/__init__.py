"""Tradewarden: order lifecycle and trade management for retail algo traders."""

__version__ = "0.1.0"
