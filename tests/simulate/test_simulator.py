"""Simulator options: pile-up from the profile, scaling with count rate."""

from dataclasses import replace

import numpy as np
import pytest

from pigmentmap.core import PigmentmapError
from pigmentmap.materials import parse_stack
from pigmentmap.simulate import Simulator


def _sum_peak_share(counts, axis, energy_kev):
    ch = axis.channel_of(energy_kev)
    return counts[:, ch - 3 : ch + 4].sum(axis=1) / counts.sum(axis=1)


def test_pileup_is_on_by_default_with_the_profiles_resolving_time(library, elio):
    assert Simulator(elio).pileup_resolving_time_s == pytest.approx(
        elio.detector.pileup_resolving_time_ns * 1e-9
    )
    assert elio.detector.pileup_resolving_time_ns > 0
    stacks = [parse_stack("LW:120/CaCO3:180", library=library)]
    on = Simulator(elio).simulate(stacks).counts
    off = Simulator(elio, pileup_resolving_time_s=0).simulate(stacks).counts
    quiet = replace(elio, detector=replace(elio.detector, pileup_resolving_time_ns=0.0))
    np.testing.assert_array_equal(Simulator(quiet).simulate(stacks).counts, off)
    # Pb L-alpha + Pb L-alpha sum peak at 21.1 keV, above the tube's Rh K lines' Compton
    e = elio.axis.energies
    ch = elio.axis.channel_of(2 * 10.5513)
    assert on[0, ch] > 1.001 * off[0, ch]
    # counts move from the single peaks to the sum peaks: the total drops by tau * rate
    rate = off.sum() / elio.live_time_s
    tau = elio.detector.pileup_resolving_time_ns * 1e-9
    # (sum peaks above the axis, over 40.96 keV, are lost: a few 1e-6)
    assert on.sum() == pytest.approx(off.sum() * (1 - tau * rate), rel=2e-5)
    assert e[np.argmax(on[0] - off[0])] > 10.0


def test_pileup_grows_with_the_current_not_with_the_live_time(library, elio):
    stacks = [parse_stack("RL:100/CaCO3:180", library=library)]
    base = Simulator(elio).simulate(stacks).counts
    longer = Simulator(elio.with_changes(live_time_s=4 * elio.live_time_s)).simulate(stacks).counts
    np.testing.assert_allclose(longer, 4 * base, rtol=1e-9)  # same rate: same pile-up share
    stronger = Simulator(elio.with_changes(current_ua=4 * elio.tube.current_ua)).simulate(stacks)
    pb_sum = 2 * 10.5513
    share = _sum_peak_share(base, elio.axis, pb_sum)
    share_4x = _sum_peak_share(stronger.counts, elio.axis, pb_sum)
    off = Simulator(elio, pileup_resolving_time_s=0).simulate(stacks).counts
    no_pileup = _sum_peak_share(off, elio.axis, pb_sum)
    # the pile-up part of the sum-peak window scales with the rate: 4 times the current
    assert (share_4x - no_pileup) / (share - no_pileup) == pytest.approx(4.0, rel=0.05)


def test_negative_resolving_time_is_refused(elio):
    with pytest.raises(PigmentmapError, match="resolving time"):
        Simulator(elio, pileup_resolving_time_s=-1e-9)
