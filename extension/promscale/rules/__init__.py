"""Recording and alerting rules in Prometheus's rule file format (docs/rules.md): parsing and
validation as promtool does (spec.py, templates in template.py and template_funcs.py), storage
with state carried over (store.py), evaluation of a group at one timestamp (evaluate.py, alert
states in alerts.py) and the bodies of /api/v1/rules and /api/v1/alerts (api.py)."""
