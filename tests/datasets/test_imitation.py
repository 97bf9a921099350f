"""Labels no other stack can imitate (pigmentmap.datasets.imitation)."""

import numpy as np
import pytest

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.imitation import (
    imitating_stack,
    imitation_weights,
    present_identifiable_z,
    whitened_gram,
)
from pigmentmap.materials import parse_stack
from pigmentmap.simulate import Simulator


def test_an_imitating_stack_keeps_every_layer_whole(library):
    s = parse_stack("IO=0.3+red_ochre=0.4+LW=0.3:50/IO=0.2+CaCO3=0.8:100", library=library)
    oil = library["linseed_oil"]
    alt = imitating_stack(s, {"iron_oxide"}, {"red_ochre": 2.0}, oil)
    top = {p.name: f for p, f in alt.layers[0].components}
    assert "iron_oxide" not in top and top["red_ochre"] == pytest.approx(0.8 / 1.1)
    assert sum(top.values()) == pytest.approx(1.0)  # 0.8 + 0.3 > 1: rescaled, no filler
    low = {p.name: f for p, f in alt.layers[1].components}
    assert low == pytest.approx({"calcium_carbonate": 0.8, "linseed_oil": 0.2})
    assert alt.layers[0].thickness_um == s.layers[0].thickness_um


def test_weights_replace_what_the_others_share_and_nothing_else():
    e = np.arange(10.0) + 1.0
    s = np.full(10, 100.0)
    d = np.zeros((3, 10))
    d[0, 2], d[1, 2], d[2, 7] = 40.0, 20.0, 30.0  # class 1 shares class 0's line at half strength
    gram = whitened_gram(s, d, energies_kev=e, upper_kev=20.0)
    a, z = imitation_weights(gram, 0)
    assert a[1] == pytest.approx(2.0) and a[2] == pytest.approx(0.0) and z == pytest.approx(0.0)
    a, z = imitation_weights(gram, 2)  # nobody else has its line
    assert np.allclose(a, 0.0) and z == pytest.approx(3.0)
    with pytest.raises(PigmentmapError):
        imitation_weights(gram, 3)


def test_identifiable_never_exceeds_detectable_and_only_imitated_classes_drop(library, elio):
    sim = Simulator(elio, library=library, secondary_fluorescence=False)
    names = ["iron_oxide", "red_ochre", "vermilion", "lead_white"]
    stacks = [parse_stack("IO=0.05+red_ochre=0.45+LW=0.5:40/CaCO3:100", library=library),
              parse_stack("VM=0.3+LW=0.7:40/CaCO3:100", library=library)]  # fmt: skip
    labels = np.array([[1, 1, 0, 1], [0, 0, 1, 1]])
    z, ident = present_identifiable_z(sim, stacks, labels, names,
                                      filler=library["linseed_oil"], upper_kev=(25.0, 42.0))  # fmt: skip
    assert (ident <= z + 1e-6).all() and (ident >= 0).all()
    assert ((z > 0) == (labels[..., None] > 0)).all()
    assert ident[0, 0, -1] < 0.5 * z[0, 0, -1]  # a little more ochre gives most of its iron
    assert ident[1, 2, -1] == pytest.approx(z[1, 2, -1])  # nothing else has Hg


def test_a_moved_pigment_leaves_every_layer_whole(library):
    from pigmentmap.datasets.imitation import moved_stack

    s = parse_stack("VM=0.2+LW=0.8:30/ZW=0.5+CaCO3=0.5:100", library=library)
    m = moved_stack(s, {"vermilion"}, library["vermilion"], to_layer=1, fraction=0.4,
                    filler=library["linseed_oil"])  # fmt: skip
    for layer in m.layers:
        assert sum(f for _, f in layer.components) == pytest.approx(1.0)
    top = {p.name: f for p, f in m.layers[0].components}
    low = {p.name: f for p, f in m.layers[1].components}
    assert "vermilion" not in top and low["vermilion"] == pytest.approx(0.4)
    assert low["zinc_white"] == pytest.approx(0.3)
    with pytest.raises(PigmentmapError):
        moved_stack(s, {"vermilion"}, library["vermilion"], to_layer=1, fraction=0.0,
                    filler=library["linseed_oil"])  # fmt: skip


def test_a_thin_light_top_layer_cannot_say_where_its_pigment_is_but_a_lead_cover_can(library, elio):
    from pigmentmap.datasets.imitation import layer_imitation_z
    from pigmentmap.datasets.universal import present_class_z

    sim = Simulator(elio.with_changes(live_time_s=elio.live_time_s / 2), library=library,
                    secondary_fluorescence=False)  # fmt: skip
    names = ["zinc_white", "vermilion", "lead_white"]
    stacks = [parse_stack("ZW=0.02+CaCO3=0.98:20/CaCO3:100", library=library),  # 20 um of chalk
              parse_stack("VM=0.5+LW=0.5:5/LW:100/CaCO3:100", library=library)]  # fmt: skip
    labels = np.array([[1, 0, 0], [0, 1, 1]])
    oil = library["linseed_oil"]
    z = layer_imitation_z(sim, stacks, labels, names, filler=oil, upper_kev=(42.0,))
    seen = present_class_z(sim, stacks, labels, names, filler=oil, upper_kev=(42.0,))
    # zinc white: plainly there (removing it changes the spectrum at > 30 sigma), but 2 % in
    # 20 um of chalk on top and a little less in the chalk below give the same spectrum
    assert z[0, 0, 0] < 5.0 < 30.0 < seen[0, 0, 0]
    assert z[1, 1, 0] > 50.0  # vermilion under 100 um of lead white would vanish
    assert np.isnan(z[1, 2, 0])  # lead white is in both layers: not tried
    assert np.isnan(z[0, 1, 0])  # absent
