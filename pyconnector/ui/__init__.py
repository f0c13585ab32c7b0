"""The built-in web UI: a query page (/graph), a trace search (/traces) and a status page (/status).

Plain static files (static/: HTML, CSS, JavaScript modules, vendored uPlot) served with ETags, and
one JSON endpoint that gathers what the status page shows from the extension's prom_info views.
The pages call the connector's own HTTP APIs (Prometheus and Jaeger) with relative URLs, so they work
behind a reverse proxy that adds authentication.
"""

from .routes import RULES, UiHandlers

__all__ = ["RULES", "UiHandlers"]
