"""PromQL engine of Prometheus 2.42 for float samples: lexer → parser (AST, printer) → engine.

Entry points for the SQL functions are in api.py; see docs/promql.md.
"""
