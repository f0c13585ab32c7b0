"""The extension side of the Prometheus HTTP API's non-query endpoints (series, label
names and values, metadata, exemplars): each entry point returns the complete
Prometheus response body, so the connector only forwards it."""
