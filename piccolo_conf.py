"""Piccolo configuration: the engine follows DATABASE_URL (see events/settings.py)."""

from piccolo.conf.apps import AppRegistry

from events.db import make_engine
from events.settings import get_settings

DB = make_engine(get_settings())

APP_REGISTRY = AppRegistry(apps=["events.piccolo_app"])
