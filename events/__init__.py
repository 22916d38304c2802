"""Trefpunt: events and networking sessions for business-support organisations."""

__version__ = "0.1.0"
