"""What a split inside a look-alike group rests on: found where a known model looks."""

import numpy as np
import pytest
import torch

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.evaluate.groups import Group
from pigmentmap.ml.split_basis import attribution, describe, split_bases, windows
from pigmentmap.preprocess.preprocessor import Preprocessor

ENERGIES = Preprocessor.canonical().energies_kev  # 1.01-41 keV in 20 eV bins


def _channels(kev: float, half_width: int = 3) -> slice:
    i = int(np.argmin(np.abs(ENERGIES - kev)))
    return slice(i - half_width, i + half_width + 1)


class _Looker(torch.nn.Module):
    """Class 0 reads the counts at Pb L-alpha (10.55 keV), class 1 at Fe K-alpha (6.40 keV),
    class 2 at Hg L-alpha (9.99 keV); the mask channel is ignored."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x[:, 0]
        return torch.stack(
            [s[:, _channels(10.55)].sum(1), 2 * s[:, _channels(6.40)].sum(1),
             s[:, _channels(9.99)].sum(1)], dim=1,
        )  # fmt: skip


def _inputs(n: int = 40) -> np.ndarray:
    x = np.random.default_rng(0).random((n, 2, len(ENERGIES)), dtype=np.float32)
    x[:, 1] = 1.0
    return x


def test_the_split_rests_on_the_energies_the_model_reads():
    names = ("lead_white", "iron_oxide", "vermilion")
    x = _inputs()
    truth = np.zeros((len(x), 3), dtype=np.float32)
    truth[::2, 0] = 1
    truth[1::2, 1] = 1
    groups = [Group(("lead_white", "iron_oxide"), "made up for the test"), Group(("vermilion",))]
    out = split_bases(_Looker(), x, truth, np.ones_like(truth), groups, names,
                      energies_kev=ENERGIES)  # fmt: skip
    assert out[1] == groups[1]  # a group of one has no split
    basis = out[0].basis
    assert len(basis) == 3
    lines = [line for w in basis[:2] for line in w["lines"]]
    assert "Pb La1" in lines and "Fe Ka1" in lines
    assert "Hg La1" not in lines  # read by a class outside the group
    assert sum(w["share"] for w in basis[:2]) > 0.95  # nothing else moves the split
    assert basis[2]["share"] < 0.05
    # Fe carries twice the weight, so it comes first
    assert "Fe Ka1" in basis[0]["lines"] and basis[0]["share"] > basis[1]["share"]
    assert basis[0]["lines"][0] == "Fe Ka1"  # the line the split sits on comes first (not Mn Kb1)
    assert out[0].why.startswith("made up for the test; the split rests most on ")
    assert "Pb La1" in out[0].why and "spread over the whole spectrum" not in out[0].why


def test_a_split_spread_over_the_spectrum_says_so():
    class Everywhere(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = x[:, 0]
            return torch.stack([s.sum(1), -s.sum(1)], dim=1)

    names = ("lead_white", "red_lead")
    x = _inputs()
    truth = np.ones((len(x), 2), dtype=np.float32)
    (g,) = split_bases(Everywhere(), x, truth, np.ones_like(truth), [Group(names)], names,
                       energies_kev=ENERGIES)  # fmt: skip
    assert sum(w["share"] for w in g.basis) < 0.05
    assert "spread over the whole spectrum" in g.why


def test_a_basis_survives_the_card_and_a_malformed_one_is_refused():
    g = Group(("a", "b"), "why", ({"kev": [10.35, 10.75], "share": 0.5, "lines": ["Pb La1"]},))
    assert Group.from_dict(g.to_dict()) == g
    assert "basis" not in Group(("a",)).to_dict()  # cards of old models read as before
    assert Group.from_dict({"members": ["a"], "why": ""}).basis == ()
    with pytest.raises(PigmentmapError, match="basis is malformed"):
        Group.from_dict({"members": ["a", "b"], "basis": [{"kev": [1.0]}]})


def test_windows_do_not_overlap_and_take_the_most_first():
    share = np.zeros(len(ENERGIES))
    share[_channels(6.40, 1)] = 0.6
    share[_channels(6.60, 1)] = 0.3  # inside the first window: not a window of its own
    share[_channels(20.0, 1)] = 0.1
    share /= share.sum()
    w = windows(share, ENERGIES, n=2)
    assert w[0]["kev"][0] <= 6.40 <= w[0]["kev"][1] and w[0]["kev"][0] <= 6.60 <= w[0]["kev"][1]
    assert w[1]["kev"][0] <= 20.0 <= w[1]["kev"][1]
    assert w[0]["share"] == pytest.approx(0.9) and w[1]["share"] == pytest.approx(0.1)
    assert "no pigment line" in describe(w[1:])


def test_attribution_needs_two_members():
    with pytest.raises(ValueError):
        attribution(_Looker(), _inputs(2), [0])
