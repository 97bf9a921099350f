"""Labels count a pigment by its own lines (datasets/own_lines.py)."""

import numpy as np
import pytest

from pigmentmap.datasets.own_lines import (
    DETECTABILITY_RULE,
    OWN_LINE_WINDOW_KEV,
    label_rule,
    own_line_channels,
)
from pigmentmap.datasets.universal import (
    DETECTABLE_SIGMA,
    class_removals,
    detectability_z,
    present_class_z,
)
from pigmentmap.instruments import load_instrument
from pigmentmap.materials import default_library, parse_stack
from pigmentmap.physics.lines import catalogue_for
from pigmentmap.simulate import Simulator

LIB = default_library()


def test_own_line_channels_are_windows_around_the_signature_lines():
    e = np.arange(1.0, 41.0, 0.005)
    m = own_line_channels(["vermilion", "zinc_white", "no_such_pigment"], e)
    zn_ka = 8.638
    near = np.abs(e - zn_ka) <= OWN_LINE_WINDOW_KEV
    assert m[1, near].all()
    zn_lines = np.array([line.energy_kev for line in catalogue_for("Zn", min_energy_kev=1.0)])
    distance = np.abs(e[m[1]][:, None] - zn_lines[None, :]).min(axis=1)
    assert (distance <= OWN_LINE_WINDOW_KEV + 1e-9).all()  # every channel kept is by a Zn line
    assert not m[1, np.abs(e - 6.4) < 0.05].any()  # Fe K-alpha is no zinc line
    assert m[0, np.abs(e - 9.99) < 0.05].all()  # Hg L-alpha
    assert not m[2].any()


@pytest.fixture(scope="module")
def lab_ag_5s():
    inst = load_instrument("lab-ag").with_changes(live_time_s=5.0)
    return Simulator(inst, secondary_fluorescence=False)


def _whole_and_own(sim, text, name):
    stack = parse_stack(text, library=LIB)
    labels = np.ones((1, 1))
    with_counts, rows, _, without = class_removals(
        sim, [stack], labels, [name], filler=LIB["linseed_oil"]
    )
    e = sim.instrument.axis.energies
    whole = detectability_z(with_counts[rows], without, energies_kev=e, upper_kev=(42.0,))
    own = present_class_z(sim, [stack], labels, [name], filler=LIB["linseed_oil"],
                          upper_kev=(42.0,))  # fmt: skip
    return float(whole[0, 0]), float(own[0, 0, 0])


def test_bone_black_hidden_under_vermilion_is_no_label_though_the_spectrum_changes(lab_ag_5s):
    """15 um of vermilion absorbs bone black's P K lines (2.0 keV); what is left of it in the
    spectrum (its matrix under the cover) names no pigment."""
    whole, own = _whole_and_own(lab_ag_5s, "VM:15/bone_black:100/CaCO3:200", "bone_black")
    assert whole > DETECTABLE_SIGMA > 1.0 > own


def test_a_pigment_on_top_keeps_its_label_and_own_lines_never_exceed_the_whole(lab_ag_5s):
    for text, name in [
        ("VM=0.3+LW=0.7:60/CaCO3:200", "vermilion"),
        ("CaCO3=0.7+bone_black=0.3:50/CaCO3:200", "bone_black"),
        ("LW:20/barium_white:100/CaCO3:200", "barium_white"),
    ]:
        whole, own = _whole_and_own(lab_ag_5s, text, name)
        assert DETECTABLE_SIGMA < own <= whole + 1e-6, text


def test_label_rule_says_which_rule_the_data_followed():
    assert "own lines" in label_rule(5.0, DETECTABILITY_RULE)
    old = label_rule(5.0, None)
    assert "whole spectrum" in old and "own lines" not in old
    assert "masked out of the loss" in old
