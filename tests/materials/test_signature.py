"""Major, key and signature elements of the library's pigments."""

from pigmentmap.datasets import PAPER_LABELS
from pigmentmap.datasets.universal import UNIVERSAL_LABELS
from pigmentmap.mapping.evidence import key_elements
from pigmentmap.materials import default_library
from pigmentmap.materials.formula import atomic_number
from pigmentmap.materials.signature import (
    GROUND_ELEMENTS,
    SIGNATURE_MIN_Z,
    major_elements,
    signature_elements,
)

LIB = default_library()


def test_every_class_a_model_learns_has_a_signature():
    """A class without signature elements could never be a positive label."""
    for name in set(UNIVERSAL_LABELS) | set(PAPER_LABELS):
        assert signature_elements(name), name


def test_signatures_leave_out_light_elements_and_ground_calcium():
    for name in UNIVERSAL_LABELS:
        sig = signature_elements(name)
        assert not set(sig) & set(GROUND_ELEMENTS)
        assert all(atomic_number(e) >= SIGNATURE_MIN_Z for e in sig)
        assert set(sig) <= set(major_elements(name))
    assert signature_elements("bone_black") == ("P",)
    assert "Ca" in major_elements("bone_black")


def test_major_elements_hold_five_percent_of_the_mass_heaviest_first():
    comp = LIB["chrome_yellow"].composition
    majors = major_elements("chrome_yellow")
    assert set(majors) == {e for e, f in comp.items() if f >= 0.05}
    assert [atomic_number(e) for e in majors] == sorted(
        (atomic_number(e) for e in majors), reverse=True
    )
    assert major_elements("chrome_yellow", min_fraction=0.5) == ("Pb",)


def test_key_elements_are_the_major_elements_from_calcium_on():
    assert key_elements("chrome_yellow") == ("Pb", "Cr")
    assert key_elements("bone_black") == ("Ca",)  # needed, though it names nothing
    assert key_elements("ultramarine") == ()
