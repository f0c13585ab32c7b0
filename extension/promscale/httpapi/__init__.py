"""The Prometheus HTTP API on the extension side, and the one owner of Prometheus's formats:
parameters as Prometheus checks them (params.py), the JSON Go writes and the envelopes
(gojson.py), each endpoint's answer, status and body (endpoints.py, behind prom_api.http_api),
series, labels, metadata (catalog_api.py) and exemplars (exemplars_api.py)."""
