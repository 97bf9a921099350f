"""The shipped default model on a real measured spectrum (skipped where ../shared/realdata lacks it)."""

from pathlib import Path

import numpy as np
import pytest

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.io.open import open_cube
from pigmentmap.ml import DEFAULT_MODEL
from pigmentmap.ml.checkpoint import load_model
from pigmentmap.ml.train import predict_proba

M6 = Path(__file__).parents[2] / "../shared/realdata/bruker_m6/bruker_m6_jetstream_file_example.spx"


@pytest.mark.skipif(not M6.is_file(), reason="real Bruker M6 spectrum not present")
@pytest.mark.filterwarnings("ignore")
def test_default_model_reads_a_real_m6_spectrum_as_bone_black_at_any_calibration_error():
    """Bruker's own result for this spectrum: Ca and P major (apatite: bone black), traces of
    Sr, Zn, As, Pb, Hg, Fe. The model must say bone black and claim no trace as a pigment, with
    the file's calibration and with it shifted by +-80 eV."""
    cube = open_cube(M6)
    net, card, pre = load_model(DEFAULT_MODEL)
    names = card["label_names"]
    counts = np.asarray(cube.counts, dtype=float).reshape(1, -1)
    for shift_kev in (0.0, -0.08, 0.08):
        axis = EnergyAxis(
            cube.axis.offset_kev + shift_kev, cube.axis.gain_kev, cube.axis.n_channels
        )
        p = predict_proba(net, pre(counts, axis))[0]
        claimed = {names[k] for k in np.flatnonzero(p >= 0.5)}
        assert claimed == {"bone_black"}, (shift_kev, claimed)


def test_the_shipped_default_model_is_calibrated_with_groups_and_a_layer_network():
    from pigmentmap.evaluate.posterior import Posterior
    from pigmentmap.ml import DEFAULT_MODEL
    from pigmentmap.ml.checkpoint import read_card
    from pigmentmap.ml.layers import load_layer_model

    card = read_card(DEFAULT_MODEL)
    post = Posterior.from_card(card)
    assert post.missing == ()
    assert card["calibration"]["metrics"]["ece"] <= 0.05
    pb = next(g for g in post.groups if "lead_white" in g.members)
    assert "red_lead" in pb.members  # the Pb-only pair XRF cannot split
    assert ("vermilion",) in [g.members for g in post.groups]
    assert load_layer_model(DEFAULT_MODEL) is not None
