"""Dataset designs (paper grid, mock-ups, random mixtures) and their HDF5 store."""

from pigmentmap.datasets.designs import (
    DESIGNS,
    PAPER_LABELS,
    Design,
    mixtures_design,
    mockup_design,
    paper_design,
)

__all__ = ["DESIGNS", "PAPER_LABELS", "Design", "mixtures_design", "mockup_design", "paper_design"]
