"""Metrics in the layout of the paper's Table 3."""

from pigmentmap.evaluate.metrics import class_metrics, format_table

__all__ = ["class_metrics", "format_table"]
