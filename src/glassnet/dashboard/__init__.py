"""The training dashboard: a local web app that shows run stores as they grow.

``glassnet dashboard runs`` serves every ``*.sqlite`` run store in ``runs/``
on http://127.0.0.1:6006 (``pip install 'glassnet[dashboard]'``). See
:mod:`glassnet.dashboard.app` for the routes and ``docs/dashboard.md``.
"""

from .app import create_app, serve, start_in_background  # noqa: F401
