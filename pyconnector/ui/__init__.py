"""The built-in web UI: a query page (/graph), a trace search (/traces) and a status page (/status).

Plain static files (static/: HTML, CSS, JavaScript modules, vendored uPlot) served with ETags, and
the JSON the status page shows, read from the extension's prom_info views. The pages call the
connector's own HTTP APIs (Prometheus and Jaeger), so they work behind a reverse proxy that adds
authentication. The routes are the route table's ``ui.<name>`` (pyconnector/routing.py).
"""

from .handlers import Ui

__all__ = ["Ui"]
