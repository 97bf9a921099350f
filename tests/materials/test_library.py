import pytest

from pigmentmap.core import PigmentmapError
from pigmentmap.materials import load_library
from pigmentmap.materials.library import parse_library_text

PAPER_ABBREVIATIONS = {
    "CrG": "chrome_oxide_green",
    "CrY": "chrome_yellow",
    "CB": "cobalt_blue",
    "EG": "emerald_green",
    "IO": "iron_oxide",
    "LW": "lead_white",
    "PB": "prussian_blue",
    "RL": "red_lead",
    "CM": "carmine",
    "VM": "vermilion",
    "ZW": "zinc_white",
    "VG": "verdigris",
    "SA": "sodium_arsenite",
}
ISSUE_EXAMPLES = [
    "lead-tin yellow I",
    "lead-tin yellow II",
    "Naples yellow",
    "orpiment",
    "realgar",
    "smalt",
    "ultramarine",
    "azurite",
    "malachite",
    "Egyptian blue",
    "Scheele's green",
    "cadmium yellow",
    "cadmium red",
    "cerulean blue",
    "cobalt violet",
    "viridian",
    "zinc yellow",
    "strontium yellow",
    "barium yellow",
    "titanium white",
    "barium white",
    "lithopone",
    "bone black",
    "yellow ochre",
    "red ochre",
    "raw umber",
    "burnt umber",
    "massicot",
    "manganese violet",
    "gypsum",
    "chalk",
]


def test_paper_abbreviations_are_aliases(library):
    for abbreviation, name in PAPER_ABBREVIATIONS.items():
        assert library[abbreviation].name == name


def test_table1_formulas_resolve(library):
    assert library["HgS"].name == "vermilion"
    assert library["CaCO3"].name == "calcium_carbonate"
    assert library["Pb3O4"].name == "red_lead"


def test_library_size_and_issue_pigments(library):
    for name in ISSUE_EXAMPLES:
        assert name in library, name
    pigments = [p for p in library.values() if p.kind != "binder"]
    paper = set(PAPER_ABBREVIATIONS.values()) | {"calcium_carbonate"}
    assert len([p for p in pigments if p.name not in paper]) >= 30


def test_every_entry_is_complete(library):
    for p in library.values():
        assert p.density_g_cm3 > 0
        assert sum(p.composition.values()) == pytest.approx(1.0, abs=1e-3)
        assert len(p.colour_srgb) == 3
        assert p.note, p.name


def test_known_compositions(library):
    assert library["lead_white"].composition["Pb"] == pytest.approx(0.8013, abs=1e-3)
    assert library["vermilion"].composition["Hg"] == pytest.approx(0.8622, abs=1e-3)


def test_unknown_pigment_suggests(library):
    with pytest.raises(PigmentmapError, match=r"unknown pigment.*vermilion"):
        library["vermillon"]


def _write(tmp_path, text):
    f = tmp_path / "user.toml"
    f.write_text(text)
    return f


def test_user_library_extends_and_overrides(tmp_path, library):
    f = _write(
        tmp_path,
        '[pigments.my_blue]\nformula = "CoCr2O4"\ndensity_g_cm3 = 5.1\naliases = ["MB"]\n'
        '[pigments.vermilion]\nformula = "HgS"\ndensity_g_cm3 = 7.9\n',
    )
    lib = load_library(f)
    assert lib["MB"].name == "my_blue"
    assert lib["vermilion"].density_g_cm3 == 7.9
    assert len(lib) == len(library) + 1


@pytest.mark.parametrize(
    "text,match",
    [
        ('[pigments.x]\nformula = "Pb(CO3"\ndensity_g_cm3 = 3.0\n', "invalid formula"),
        ('[pigments.x]\nformula = "PbO"\n', "no density"),
        ('[pigments.x]\nformula = "PbO"\ndensity_g_cm3 = -1\n', "density must be positive"),
        ("[pigments.x]\ncomposition = { Pb = 0.5, O = 0.2 }\ndensity_g_cm3 = 3\n", "sum to"),
        ('[pigments.x]\nformula = "PbO"\ndensity = 3\n', "unknown key"),
        ("[pigments.x]\ndensity_g_cm3 = 3\n", "exactly one of formula"),
        ('[pigments.x]\nformula = "PbO"\ndensity_g_cm3 = 3\naliases = ["VM"]\n', "already used"),
        ("not toml [", "not valid TOML"),
        ("[other]\n", "no \\[pigments.NAME\\]"),
    ],
)
def test_bad_user_library(tmp_path, text, match):
    with pytest.raises(PigmentmapError, match=match):
        load_library(_write(tmp_path, text))


def test_shared_formula_is_ambiguous_by_formula_only(tmp_path):
    lib = load_library(
        _write(tmp_path, '[pigments.anatase]\nformula = "TiO2"\ndensity_g_cm3 = 3.9\n')
    )
    assert lib["anatase"].density_g_cm3 == 3.9
    assert lib["titanium white"].name == "titanium_white"
    with pytest.raises(PigmentmapError, match="ambiguous"):
        lib["TiO2"]


def test_library_hash_changes_with_content():
    a = parse_library_text('[pigments.x]\nformula = "PbO"\ndensity_g_cm3 = 9.6\n')
    b = parse_library_text('[pigments.x]\nformula = "PbO"\ndensity_g_cm3 = 9.5\n')
    assert a.hash != b.hash
