"""The universal design: random paintings on random instruments, and labels physics can back."""

import h5py
import numpy as np
import pytest

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.store import (
    generate_dataset,
    read_dataset,
    read_layer_labels,
    read_layer_part_z,
)
from pigmentmap.datasets.universal import (
    ANODES,
    DETECTABILITY_UPPER_KEV,
    EXTENDED_PIGMENT_SHARE,
    EXTENDERS,
    SIM_AXIS,
    UNIVERSAL_LABELS,
    detectability_z,
    random_variant,
    universal_design,
    universal_instrument,
    without_pigment,
)
from pigmentmap.instruments import load_instrument
from pigmentmap.materials import default_library, parse_stack
from pigmentmap.simulate.simulator import Simulator

LIB = default_library()
EXTENDED_LAYERS = 0.35  # the share tried in session 20


def test_palette_has_the_papers_classes_and_at_least_24():
    from pigmentmap.datasets import PAPER_LABELS

    assert len(UNIVERSAL_LABELS) >= 24 and set(PAPER_LABELS) <= set(UNIVERSAL_LABELS)
    assert all(name in LIB for name in UNIVERSAL_LABELS)


def test_variants_stay_in_their_ranges_and_cover_every_anode():
    rng = np.random.default_rng(0)
    vs = [random_variant(rng) for _ in range(300)]
    assert {v["anode"] for v in vs} == set(ANODES)
    for v in vs:
        assert 25 <= v["voltage_kv"] <= 50
        assert 90 <= v["scattering_deg"] <= 150
        assert v["incidence_deg"] + v["takeoff_deg"] == pytest.approx(v["scattering_deg"])
        assert 20 <= v["incidence_deg"] <= 80 and 20 <= v["takeoff_deg"] <= 80
        assert 120 <= v["fwhm_mn_ka_ev"] <= 200


def test_held_out_anodes_and_angles_are_never_drawn():
    d = universal_design(LIB, n=600, seed=2, group_size=10, anodes=("Rh", "W"),
                         scattering_deg=(90.0, 110.0))  # fmt: skip
    assert {v["anode"] for v in d.variants} == {"Rh", "W"}
    assert max(v["scattering_deg"] for v in d.variants) <= 110


def test_design_layers_grounds_and_labels():
    d = universal_design(LIB, n=400, seed=3)
    n_layers = [len(s.layers) for s in d.stacks]
    assert max(n_layers) >= 4 and min(n_layers) == 1  # 0-3 paint layers over 1-2 ground layers
    thick = [layer.thickness_um for s in d.stacks for layer in s.layers[:-1]]
    assert min(thick) >= 5.0
    # Fresco (lime plaster): no binder in any layer.
    fresco = [s for s in d.stacks if s.layers[-1].components[0][0].name == "lime_plaster"]
    assert fresco and all(layer.binder is None for s in fresco for layer in s.layers)
    # Traces are not classes; every positive label is a pigment in the stack.
    for s, y in zip(d.stacks, d.labels, strict=True):
        present = s.pigments_present()
        assert {UNIVERSAL_LABELS[k] for k in np.flatnonzero(y)} <= present
    assert d.labels.sum(0).min() > 0  # every class occurs


def test_paint_layers_are_let_down_with_an_extender_only_when_asked():
    """With ``extended_layers`` about that share of the paint layers hold a white extender of
    no class, with their pigments at 0.2-50 % of the layer's pigment mass; no extender is ever
    a label. Without it (the shipped recipe) no layer has one and the stacks are unchanged."""
    plain = universal_design(LIB, n=300, seed=5)

    def let_down(layer):
        names = {p.name for p, _f in layer.components}
        return bool(names & set(EXTENDERS)) and bool(names & set(UNIVERSAL_LABELS))

    assert not any(let_down(layer) for s in plain.stacks for layer in s.layers)
    assert "extended_layers" not in plain.info
    d = universal_design(LIB, n=600, seed=5, extended_layers=EXTENDED_LAYERS)
    assert d.info["extended_layers"] == "0.35"
    paint = [layer for s in d.stacks for layer in s.layers if any(
        p.name in UNIVERSAL_LABELS for p, _f in layer.components)]  # fmt: skip
    extended = [layer for layer in paint if any(p.name in EXTENDERS for p, _f in layer.components)]
    share = len(extended) / len(paint)
    assert abs(share - EXTENDED_LAYERS) < 0.06
    lo, hi = EXTENDED_PIGMENT_SHARE
    pigment = [sum(f for p, f in layer.components if p.name in UNIVERSAL_LABELS)
               for layer in extended]  # fmt: skip
    assert min(pigment) >= lo * 0.98 and max(pigment) <= hi * 1.01  # a Mn trace dilutes by 1 %
    assert min(pigment) < 0.01  # dilute paint is drawn
    assert not set(EXTENDERS) & set(UNIVERSAL_LABELS)


def test_universal_instrument_applies_the_variant():
    v = random_variant(np.random.default_rng(4))
    inst = universal_instrument(load_instrument("elio"), v)
    assert inst.tube.anode == v["anode"]
    assert inst.detector.fwhm_mn_ka_ev == v["fwhm_mn_ka_ev"]
    assert inst.geometry.scattering_angle_deg == v["scattering_deg"]


def test_without_pigment_keeps_thickness_and_other_pigments():
    s = parse_stack("VM=0.2+LW=0.8:40/CaCO3:200", library=LIB)
    w = without_pigment(s, {"vermilion"}, LIB["linseed_oil"])
    assert [layer.thickness_um for layer in w.layers] == [40.0, 200.0]
    assert "Hg" not in w.elements and "Pb" in w.elements


def test_detectability_z_scales_as_sqrt_counts_and_respects_the_upper_end():
    e = SIM_AXIS.energies
    rng = np.random.default_rng(0)
    base = rng.uniform(50, 100, (1, len(e)))
    peak = base.copy()
    peak[0, np.argmin(np.abs(e - 23.2))] += 40  # a Cd K-alpha-like excess
    z1 = detectability_z(peak, base, energies_kev=e)
    z4 = detectability_z(4 * peak, 4 * base, energies_kev=e)
    assert np.allclose(z4, 2 * z1)
    assert z1[0, 0] == 0.0 and z1[0, -1] > 0  # invisible up to 20 keV, seen up to 42


def _simulated_z(stack_text, *, live_time_s):
    inst = load_instrument("elio").with_changes(live_time_s=live_time_s)
    sim = Simulator(inst, secondary_fluorescence=False)
    stack = parse_stack(stack_text, library=LIB)
    with_ = sim.simulate([stack]).counts
    without = sim.simulate([without_pigment(stack, {"vermilion"}, LIB["linseed_oil"])]).counts
    return float(detectability_z(with_, without, energies_kev=inst.axis.energies)[0, -1])


def test_label_rule_masks_a_trace_under_thick_lead_white_and_keeps_a_visible_one():
    """0.3 % vermilion under 150 um of lead white at a short dwell is below the noise: masked;
    30 % vermilion on top is not."""
    hidden = _simulated_z("LW:150/LW=0.997+VM=0.003:60/CaCO3:200", live_time_s=0.05)
    visible = _simulated_z("VM=0.3+LW=0.7:60/CaCO3:200", live_time_s=0.05)
    assert hidden < 5.0 < visible


def test_generated_universal_dataset_stores_detectability(tmp_path):
    d = universal_design(LIB, n=24, seed=5, group_size=12)
    out = generate_dataset(d, instrument=load_instrument("elio"), out=tmp_path / "u.h5", seed=0,
                           library_hash=LIB.hash, noise=False, progress=False)  # fmt: skip
    data = read_dataset(out)
    assert data.spectra.shape == (24, SIM_AXIS.n_channels)
    assert data.detectability.shape == (24, len(UNIVERSAL_LABELS), len(DETECTABILITY_UPPER_KEV))
    present = data.labels.astype(bool)
    assert (data.detectability[~present] == 0).all()
    assert (data.detectability[present][:, -1] > 0).mean() > 0.9
    # z grows with the range it is taken over.
    assert (np.diff(data.detectability[present], axis=-1) >= -1e-3).all()
    with h5py.File(out) as f:
        assert f.attrs["noise"] == "expected"
        assert f.attrs["detectability_rule"] == "own lines"
    # each class's parts: present where the layer labels say, one part equal to the class's own
    # z where it sits in one part only, each part below the whole where it sits in both
    parts = read_layer_part_z(out, UNIVERSAL_LABELS)
    layers = read_layer_labels(out, UNIVERSAL_LABELS).astype(bool)
    assert parts.shape == (24, len(UNIVERSAL_LABELS), 2, len(DETECTABILITY_UPPER_KEV))
    assert (parts[~layers] == 0).all()
    one = layers.sum(axis=-1) == 1
    single = np.where(layers[one][:, 0, None], parts[one][:, 0], parts[one][:, 1])
    assert np.allclose(single, data.detectability[one])
    both = layers.all(axis=-1)
    assert both.any()
    assert (parts[both][..., -1] <= data.detectability[both][:, None, -1] * 1.01 + 1e-3).all()


def test_a_part_the_top_layer_hides_has_no_significance():
    """Vermilion under 80 um of vermilion is hidden: its lower part is below the noise at any
    counts a scan has, so 'both' is no label XRF can back; under a thin lean glaze it shows."""
    from pigmentmap.datasets.universal import present_class_z, present_part_z
    from pigmentmap.simulate import Simulator

    sim = Simulator(load_instrument("elio"), secondary_fluorescence=False)
    stacks = [parse_stack(s, library=LIB) for s in (
        "VM:80/VM=0.3+CaCO3=0.7:100/CaCO3:200",
        "VM=0.02+CaCO3=0.98:10/VM=0.3+CaCO3=0.7:100/CaCO3:200",
        "LW:40/VM=0.3+CaCO3=0.7:100/CaCO3:200",  # vermilion in one part: its own z
    )]  # fmt: skip
    z = present_class_z(sim, stacks, np.ones((3, 1)), ["vermilion"], filler=LIB["linseed_oil"])
    part = present_part_z(sim, stacks, z, ["vermilion"], filler=LIB["linseed_oil"])
    assert part[0, 0, 1, -1] < 5.0 < part[0, 0, 0, -1]
    assert part[1, 0, 1, -1] > 5.0 and part[1, 0, 0, -1] > 5.0
    assert part[2, 0, 0].sum() == 0 and np.allclose(part[2, 0, 1], z[2, 0])


def test_bad_universal_arguments_are_refused():
    with pytest.raises(PigmentmapError, match="extended_layers"):
        universal_design(LIB, n=2, extended_layers=1.5)
    with pytest.raises(PigmentmapError):
        universal_design(LIB, n=0)
    with pytest.raises(PigmentmapError):
        universal_design(LIB, n=5, scattering_deg=(10.0, 20.0))
    with pytest.raises(PigmentmapError):
        random_variant(np.random.default_rng(0), anodes=())
