"""Dataset designs: which stacks to simulate, with their labels."""

from pigmentmap.datasets.designs import PAPER_LABELS, paper_design

__all__ = ["PAPER_LABELS", "paper_design"]
