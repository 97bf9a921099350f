import pytest

from pigmentmap.core import PigmentmapError
from pigmentmap.materials import DEFAULT_BINDER_FRACTION, parse_stack


def test_paper_stack_by_abbreviation(library):
    s = parse_stack("VM:100/LW:120/CaCO3:180", library=library)
    assert [layer.thickness_um for layer in s.layers] == [100, 120, 180]
    assert s.layers[0].binder_fraction == DEFAULT_BINDER_FRACTION
    assert s.pigments_present() == {"vermilion", "lead_white", "calcium_carbonate"}


def test_mixture_layer(library):
    s = parse_stack("ZnO=0.1+lead_white=0.85+HgS=0.05:120", library=library)
    fr = s.layers[0].pigment_fractions
    assert fr["lead_white"] == pytest.approx(0.85 * 0.75)
    assert sum(s.layers[0].composition.values()) == pytest.approx(1.0)


def test_pure_layers_have_pigment_density(library):
    s = parse_stack("HgS:100", library=library, pure=True)
    assert s.layers[0].density_g_cm3 == pytest.approx(8.1)
    assert s.layers[0].composition["Hg"] == pytest.approx(0.8622, abs=1e-3)


def test_binder_lowers_density(library):
    pure = parse_stack("LW:10", library=library, pure=True).layers[0].density_g_cm3
    paint = parse_stack("LW:10", library=library).layers[0].density_g_cm3
    assert paint < pure
    # additive volumes: 1 / (0.75 / 6.7 + 0.25 / 0.93)
    assert paint == pytest.approx(1 / (0.75 / 6.7 + 0.25 / 0.93))


def test_normalise(library):
    s = parse_stack("ZnO=1+LW=3:50", library=library, normalise=True)
    assert s.layers[0].components[0][1] == pytest.approx(0.25)


@pytest.mark.parametrize(
    "text,match",
    [
        ("unobtainium:100", "unknown pigment"),
        ("HgS100", "expected PIGMENT:THICKNESS"),
        ("HgS:abc", "not a number"),
        ("HgS:-5/LW:10", "negative thickness"),
        ("HgS:0/LW:0", "total thickness"),
        ("HgS:100//LW:10", "empty layer"),
        ("ZnO=0.2+LW=0.7:100", "sum to 0.9"),
        ("ZnO+LW:100", "give a mass fraction"),
        ("ZnO=-0.1+LW=1.1:100", "negative fraction"),
        ("", "empty stack"),
        ("HgS:nan", "not finite"),
    ],
)
def test_bad_stack_strings(library, text, match):
    with pytest.raises(PigmentmapError, match=match):
        parse_stack(text, library=library)
