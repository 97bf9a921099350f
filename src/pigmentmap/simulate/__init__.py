"""Stacks + instrument -> spectra, in batches; noise; output files."""

from pigmentmap.simulate.noise import poisson_counts
from pigmentmap.simulate.simulator import SimulationResult, Simulator

__all__ = ["SimulationResult", "Simulator", "poisson_counts"]
