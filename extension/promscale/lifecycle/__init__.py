"""Cold tier: moving head samples into compressed rows, and reading them back.

``compress`` runs inside maintenance (one head partition per call); ``read``
serves ``prom_api.get_samples`` and the ``prom_metric`` views. Both take
``plpy`` as their first argument, so they can be tested with the plpy stub.
"""
