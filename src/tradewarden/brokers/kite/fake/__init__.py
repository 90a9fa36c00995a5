"""A wire-faithful fake of Zerodha's Kite Connect v3 over the paper exchange.

Built from Kite's public documentation and the official SDK's shapes, independent of our Kite
adapter: REST (``rest``), the websocket (``stream``), and a ``/_fake`` control surface
(``control``). Run it with ``tradewarden paper-broker serve --dialect kite``.
"""

from tradewarden.brokers.kite.fake.app import create_app, serve
from tradewarden.brokers.kite.fake.control import add_user
from tradewarden.brokers.kite.fake.state import KiteFakeState
from tradewarden.brokers.kite.fake.threaded import ThreadedKiteFake

__all__ = ["KiteFakeState", "ThreadedKiteFake", "add_user", "create_app", "serve"]
