"""The energy axis of a spectrum: channel -> energy in keV."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pigmentmap.core.errors import PigmentmapError


@dataclass(frozen=True)
class EnergyAxis:
    """Energy calibration ``E(ch) = offset + gain * ch + quadratic * ch**2`` in keV.

    Parameters
    ----------
    offset_kev, gain_kev : float
        Energy of channel 0 and keV per channel.
    n_channels : int
        Number of channels.
    quadratic_kev : float
        Optional quadratic term.

    Examples
    --------
    >>> axis = EnergyAxis(offset_kev=0.0, gain_kev=0.01, n_channels=4096)
    >>> float(axis.energies[281])
    2.81
    >>> axis.channel_of(2.80)
    280
    """

    offset_kev: float
    gain_kev: float
    n_channels: int
    quadratic_kev: float = 0.0

    def __post_init__(self) -> None:
        if self.n_channels < 2:
            raise PigmentmapError(
                f"an energy axis needs at least 2 channels, got {self.n_channels}"
            )
        if not self.gain_kev > 0:
            raise PigmentmapError(f"energy gain must be positive, got {self.gain_kev} keV/channel")

    @property
    def energies(self) -> np.ndarray:
        """Channel-centre energies in keV, shape (n_channels,)."""
        ch = np.arange(self.n_channels, dtype=np.float64)
        return self.offset_kev + self.gain_kev * ch + self.quadratic_kev * ch**2

    @property
    def max_energy_kev(self) -> float:
        """Energy of the last channel."""
        return float(self.energies[-1])

    def channel_of(self, energy_kev: float) -> int:
        """Nearest channel to ``energy_kev`` (may lie outside the axis)."""
        if self.quadratic_kev == 0.0:
            return round((energy_kev - self.offset_kev) / self.gain_kev)
        return int(np.argmin(np.abs(self.energies - energy_kev)))

    def to_dict(self) -> dict[str, float | int]:
        """Plain values for JSON / HDF5 attributes."""
        return {
            "offset_kev": self.offset_kev,
            "gain_kev": self.gain_kev,
            "n_channels": self.n_channels,
            "quadratic_kev": self.quadratic_kev,
        }
