import pytest
import xraylib

from pigmentmap.core import PigmentmapError
from pigmentmap.materials import mass_fractions, parse_formula


@pytest.mark.parametrize(
    "formula", ["HgS", "PbCrO4", "Fe2O3", "CaCO3", "Cu3(CO3)2(OH)2", "K3Co(NO2)6"]
)
def test_mass_fractions_match_xraylib(formula):
    ours = mass_fractions(formula)
    ref = xraylib.CompoundParser(formula)
    for z, frac in zip(ref["Elements"], ref["massFractions"], strict=True):
        assert ours[xraylib.AtomicNumberToSymbol(z)] == pytest.approx(frac, rel=1e-6)


def test_adducts_brackets_and_decimals():
    assert parse_formula("2PbCO3.Pb(OH)2") == {"Pb": 3, "C": 2, "O": 8, "H": 2}
    assert parse_formula("Cu(CH3COO)2.3Cu(AsO2)2") == {"Cu": 4, "C": 4, "H": 6, "O": 16, "As": 6}
    assert parse_formula("Fe4[Fe(CN)6]3") == {"Fe": 7, "C": 18, "N": 18}
    assert parse_formula("CdS0.6Se0.4") == {"Cd": 1, "S": 0.6, "Se": 0.4}
    assert parse_formula("CaSO4·2H2O") == {"Ca": 1, "S": 1, "O": 6, "H": 4}


def test_fractions_sum_to_one():
    assert sum(mass_fractions("Cu(CH3COO)2.3Cu(AsO2)2").values()) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", ["", "Xx2O", "Pb(CO3", "PbCO3)", "2", "Pb[CO3)", "hgs", "Pb-O"])
def test_invalid_formulas_raise(bad):
    with pytest.raises(PigmentmapError):
        parse_formula(bad)
