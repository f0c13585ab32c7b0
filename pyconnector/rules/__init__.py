"""Recording and alerting rules (docs/rules.md): the rule files of --rules-file loaded into the
database (loader.py) and reloaded by POST /-/reload (handlers.py) or SIGHUP (gunicorn restarts
the workers, which load them again), the evaluator thread that holds the database lease and
evaluates each group when it is due (evaluator.py, schedule.py), and the Alertmanager client
(alertmanager.py). The rules themselves are parsed and evaluated by the extension."""

from .evaluator import RuleEvaluator
from .handlers import Rules
from .loader import RuleFiles

__all__ = ["RuleEvaluator", "RuleFiles", "Rules"]
