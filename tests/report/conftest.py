"""A small results folder written with write_results, and the attributes a map run adds."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from pigmentmap.mapping.results import RESULTS, write_results

NAMES = ("vermilion", "lead_white", "red_lead")
ELEMENTS = ("Hg", "Pb", "K")
#: What tube_coincidences says of K under an Ag tube (the form of an element flag).
K_FLAG = (
    "K K: 89% of its intensity within a FWHM of tube-line scatter "
    "(3.31 keV: Ag L scatter at 3.35 keV)"
)


def make_results(
    folder,
    *,
    shape=(20, 100),
    pixel_size_mm=None,
    notes=None,
    flags=None,
    card=None,
    model_lacks=(),
    binning=1,
    unaccounted=False,
    miss_vermilion=False,
    limits=None,
):
    """Write ``folder/maps.h5``: vermilion on the left half, lead white on the right; Hg and Pb
    detected where their pigments are. ``pixel_size_mm`` and ``notes`` are set on /entry as a
    map run would; None: the attribute is absent, as in files written before them.
    ``unaccounted``: store the unaccounted-element flags a map run now stores;
    ``miss_vermilion``: vermilion is not claimed where Hg is detected; ``limits``: what the
    scan can see (a :class:`~pigmentmap.mapping.limits.DetectionLimits`), as a map run stores."""
    folder.mkdir(parents=True, exist_ok=True)
    h, w = shape
    rng = np.random.default_rng(0)
    left = np.zeros(shape, bool)
    left[:, : w // 2] = True
    prob = np.stack([np.where(left, 0.05 if miss_vermilion else 0.9, 0.05),
                     np.where(left, 0.1, 0.8), np.full(shape, 0.3)], axis=-1)  # fmt: skip
    elements = np.stack([np.where(left, 200.0, 1.0), np.where(left, 5.0, 300.0),
                         rng.uniform(0, 50, shape)], axis=-1).astype(np.float32)  # fmt: skip
    significance = np.stack([np.where(left, 12.0, 0.5), np.where(left, 1.0, 15.0),
                             np.full(shape, 4.0)], axis=-1).astype(np.float32)  # fmt: skip
    support = np.stack([np.where(left, 1, 0), np.where(left, 0, 1), np.where(left, 0, 1)],
                       axis=-1).astype(np.int8)  # fmt: skip
    loose = None
    if unaccounted:
        from pigmentmap.mapping.unaccounted import UnaccountedRule

        rule = UnaccountedRule.of(NAMES, ELEMENTS)
        loose = {"flags": rule.flags(significance, prob, NAMES), "elements": rule.elements,
                 "candidates": {e: list(c) for e, c in rule.candidates.items()}, "sigma": 5.0}  # fmt: skip
    layers = np.zeros((h, w, len(NAMES), 2))
    layers[..., 0] = 0.8
    layers[..., 1] = 0.1
    write_results(
        folder / RESULTS,
        {
            "prob": prob,
            "raw": prob,
            "names": NAMES,
            "elements": elements,
            "element_names": ELEMENTS,
            "element_units": "counts",
            "element_flags": dict(flags or {}),
            "significance": significance,
            "support": support,
            "missing": np.where(support == 0, 0, -1).astype(np.int8),
            "evidence": {
                "gate": True,
                "detected_sigma": 3.0,
                "cap": 0.25,
                "key_elements": {"vermilion": ["Hg"], "lead_white": ["Pb"], "red_lead": ["Pb"]},
                "unmeasured": {},
            },
            "groups": np.maximum(prob[..., 1], prob[..., 2])[..., None],
            "group_list": [{"members": ["lead_white", "red_lead"], "why": "both Pb"}],
            "layers": layers,
            "model_card": card if card is not None else {"architecture": "fast-cnn"},
            "model": "test-model",
            "source": str(folder / "scan.h5"),
            "source_sha256": "0" * 64,
            "binning": binning,
            "instrument": {"name": "elio"},
            "axis": {"offset_kev": 0.0, "gain_kev": 0.01},
            "model_lacks": list(model_lacks),
            "truth": None,
            "unaccounted": loose,
            "limits": None if limits is None else limits.to_dict(),
        },
    )
    with h5py.File(folder / RESULTS, "a") as f:
        attrs = f["entry"].attrs
        for key in ("pixel_size_mm", "notes"):  # as in a file written before them
            if key in attrs:
                del attrs[key]
        if pixel_size_mm is not None:
            attrs["pixel_size_mm"] = pixel_size_mm
        if notes is not None:
            attrs["notes"] = np.array(notes, dtype=h5py.string_dtype())
    return folder


@pytest.fixture
def results(tmp_path):
    """``make_results`` in a fresh folder under tmp_path: results(name, **options)."""

    def make(name="res", **options):
        return make_results(tmp_path / name, **options)

    return make
