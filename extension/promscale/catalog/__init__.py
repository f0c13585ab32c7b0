"""The metric catalog: creating series (and the metrics, labels and key positions they need)."""
