"""Text of the report: the map run's notices and a plain-language note on the model.

:func:`run_notes` reads the notices a map run gave (the ``/entry`` attribute ``notes`` of the
results file, in order; absent in older files); :func:`merge_notes` keeps those the report has
not already written; :func:`model_note` says what the model was trained on and what its
held-out figures mean, from whatever its card holds.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: What each dataset design simulated, in plain words.
DESIGNS = {
    "universal": (
        "the universal design: paintings and instruments randomised over what real ones vary "
        "(tube anode, voltage and filter, geometry, detector; grounds, binders and 0-3 paint "
        "layers of 1-3 pigments)"
    ),
    "mixtures": (
        "the mixtures design: random paints of 1-2 layers of 1-4 pigments over a random ground, "
        "on one instrument with small variations of calibration, resolution and live time"
    ),
    "paper": (
        "the paper design (Xu et al., JAAS 2022): one or two layers of the 11 Table-1 pigments "
        "over a chalk ground, on one instrument"
    ),
    "mockup": (
        "the mock-up design: the paper's Table 2 mixtures of two layers over a chalk ground, on "
        "one instrument"
    ),
}


def run_notes(attrs: dict[str, Any]) -> list[str]:
    """The notices of the map run (the ``notes`` attribute), in order; [] when absent.

    Examples
    --------
    >>> run_notes({"notes": ["a pixel file skipped", "real time used for live time"]})
    ['a pixel file skipped', 'real time used for live time']
    >>> run_notes({"notes": "one notice"}), run_notes({}), run_notes({"notes": None})
    (['one notice'], [], [])
    """
    notes = attrs.get("notes")
    if notes is None:
        return []
    if isinstance(notes, bytes | str):
        notes = [notes]
    out = []
    for n in notes:
        text = (n.decode() if isinstance(n, bytes) else str(n)).strip()
        if text and text != "None":
            out.append(text)
    return out


def _key(text: str) -> str:
    """Lower case, single spaces, no closing punctuation: how two notices are compared."""
    return re.sub(r"\s+", " ", text).strip().rstrip(".;:,").lower()


def merge_notes(
    written: list[str], notes: list[str], *, covered_prefixes: tuple[str, ...] = ()
) -> list[str]:
    """The ``notes`` not already said: neither in ``written`` nor earlier in ``notes``.

    A note is said already when, ignoring case, spacing and closing punctuation, it is contained
    in one written or kept before it, or begins with one of ``covered_prefixes`` (notices the
    report writes in its own words).

    Examples
    --------
    >>> merge_notes(["Calibration from the file."], ["calibration from the file", "x", "x."])
    ['x']
    >>> merge_notes([], ["the model has no layer order (...)", "y"], covered_prefixes=("The model has no",))
    ['y']
    """
    said = [_key(w) for w in written]
    prefixes = tuple(_key(p) for p in covered_prefixes)
    out = []
    for note in notes:
        key = _key(note)
        if not key or any(key in s for s in said) or (prefixes and key.startswith(prefixes)):
            continue
        said.append(key)
        out.append(note)
    return out


def _get(card: dict[str, Any], *path: str) -> Any:
    """``card[path[0]][path[1]]...`` or None where any step is missing."""
    value: Any = card
    for step in path:
        if not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN: unknown


def _mapping(value: Any) -> dict[str, Any]:
    """A dict, or a dict stored as JSON text (the card's instrument, the dataset's info)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _count(n: Any) -> str:
    number = _number(n)
    return f"{int(number):,}" if number is not None else ""


def _trained_on(card: dict[str, Any]) -> str:
    design = _get(card, "data", "design")
    n = _count(_get(card, "data", "n_spectra"))
    spectra = f"{n} simulated spectra" if n else "simulated spectra"
    if not design:
        return ""
    what = DESIGNS.get(str(design), f"the '{design}' design")
    if design == "universal":
        info = _mapping(_get(card, "data", "info"))
        extra = []
        if info.get("anodes"):
            extra.append(f"tubes of {str(info['anodes']).replace(',', ', ')}")
        if info.get("scattering_deg"):
            extra.append(f"scattering angles of {info['scattering_deg']} degrees")
        if extra:
            what += "; " + " and ".join(extra)
    else:
        inst = _mapping(card.get("instrument"))
        name = inst.get("description") or inst.get("name")
        if name:
            what += f" ({name})"
    arch = card.get("architecture")
    model = f"The model ({arch})" if arch else "The model"
    return f"{model} was trained on {spectra} of {what}."


def _made(card: dict[str, Any]) -> str:
    parts = []
    script, target = _get(card, "made_by", "script"), _get(card, "made_by", "make_target")
    if script:
        parts.append(
            f"made with '{target}', which runs {script}" if target else f"made by {script}"
        )
    epochs = _number(_get(card, "training", "epochs"))
    if epochs is not None:
        parts.append(f"trained for at most {int(epochs)} epochs")
    n_cal = _number(_get(card, "calibration", "data", "n_fit"))
    fit = _get(card, "calibration", "fit") or _get(card, "calibration", "method")
    if n_cal is not None:
        parts.append(
            f"its probabilities calibrated{f' ({fit} scaling)' if fit else ''} on "
            f"{int(n_cal):,} further simulated spectra"
        )
    n_layers = _number(_get(card, "layers", "data", "n_spectra"))
    if n_layers is not None:
        from pigmentmap.evaluate.layers import FEATURE_HEAD

        what = (
            "its layer calls come from a head on its own features, trained"
            if _get(card, "layers", "architecture") == FEATURE_HEAD
            else "its layer network trained"
        )
        parts.append(f"{what} on {int(n_layers):,} more")
    return ("It was " + "; ".join(parts) + ".") if parts else ""


def _figures(card: dict[str, Any]) -> list[str]:
    test = _get(card, "metrics", "test_best_fold")
    test = test if isinstance(test, dict) else {}
    cal = _get(card, "calibration", "metrics")
    cal = cal if isinstance(cal, dict) else {}
    f1 = _number(test.get("macro_f1"))
    if f1 is None:
        f1 = _number(cal.get("macro_f1"))
    n_test = _count(_get(card, "data", "n_test") or (test.get("n_spectra") if test else None))
    seen = f"On {n_test} simulated spectra it had not seen" if n_test else (
        "On simulated spectra it had not seen"
    )  # fmt: skip
    said = []
    if f1 is not None:
        said.append(
            f"macro F1 {f1:.2f} (F1 balances finding a pigment where it is against claiming it "
            "where it is not: 1 is perfect, 0 is useless; macro: averaged over the pigments)"
        )
        per_class = test.get("per_class")
        if isinstance(per_class, dict):
            scores = sorted(
                (float(v["f1"]), k)
                for k, v in per_class.items()
                if isinstance(v, dict) and _number(v.get("f1")) is not None
                and (_number(v.get("support")) or 0) > 0
            )  # fmt: skip
            if len(scores) > 1:
                (lo, lo_name), (hi, hi_name) = scores[0], scores[-1]
                said.append(f"per pigment from {lo:.2f} ({lo_name}) to {hi:.2f} ({hi_name})")
    group_f1 = _number(cal.get("group_f1"))
    if group_f1 is not None:
        said.append(
            f"look-alike group F1 {group_f1:.2f} (whether any pigment of a group XRF cannot tell "
            "apart is there)"
        )
    ece = _number(cal.get("ece_claims"))
    if ece is not None:
        points = f"{100 * ece:.0f}" if ece >= 0.01 else f"{100 * ece:.1f}"
        said.append(
            f"calibration error {ece:.3f} where it claims anything (p >= 0.1): a probability of "
            f"0.7 came true about 70 % of the time, give or take {points} percentage points on "
            "average"
        )
    elif _number(cal.get("ece")) is not None:
        said.append(f"expected calibration error {float(cal['ece']):.3f} (0 is perfect)")
    layer = _number(_get(card, "layers", "metrics", "test", "layer_accuracy"))
    if layer is not None:
        sure = _get(card, "layers", "metrics", "test", "sure")
        sure = sure if isinstance(sure, dict) else {}
        acc, cov = _number(sure.get("accuracy")), _number(sure.get("coverage"))
        said.append(
            f"layer order (top, underneath or both) right for {100 * layer:.0f} % of present "
            "pigments"
            + (f", {100 * acc:.0f} % of the {100 * cov:.0f} % it is sure of (the rest shown as "
               "uncertain)" if acc is not None and cov is not None else "")
        )  # fmt: skip
    if not said:
        return ["The model card holds no held-out figures (a model made before pigmentmap "
                "recorded them): how well it does is not known."]  # fmt: skip
    out = [f"{seen}: {'; '.join(said)}."]
    rule = str(_get(card, "training", "label_rule") or "")
    if "own lines" in rule:
        out.append(
            "Pigments whose own lines XRF could not see (too thin, or hidden under other paint) "
            "were counted neither in training nor in these figures."
        )
    elif "masked" in rule:
        out.append(
            "Pigments present too thinly for XRF to detect were counted neither in training nor "
            "in these figures."
        )
    tuned = _get(card, "finetune", "test_after", "macro_f1")
    if _number(tuned) is not None:
        n = _count(_get(card, "finetune", "data", "n_spectra"))
        file = _get(card, "finetune", "data", "file")
        out.append(
            f"It was then fine-tuned on {n + ' spectra of ' if n else ''}{file or 'other data'}: "
            f"macro F1 {float(tuned):.2f} on that data's held-out part (the figures above are "
            "from before)."
        )
    out.append(
        "These figures are from simulation: a real scan, with a scanner, paint or noise the "
        "simulation did not cover, may do worse."
    )
    return out


def model_note(card: dict[str, Any]) -> str:
    """A short, plain-language paragraph on what the model was trained on and what its held-out
    figures mean, from its card; says what the card does not hold (models made before it did).

    Parameters
    ----------
    card : dict
        The model card (``read_results(...)["model_card"]`` or a model's ``card.json``).

    Returns
    -------
    str
        Plain text (escape it for HTML).

    Examples
    --------
    >>> card = {"architecture": "fast-cnn", "label_names": ["vermilion", "lead_white"],
    ...         "data": {"design": "universal", "n_spectra": 30000, "n_test": 6000},
    ...         "metrics": {"test_best_fold": {"macro_f1": 0.65}}}
    >>> print(model_note(card)[:110])
    The model (fast-cnn) was trained on 30,000 simulated spectra of the universal design: paintings and instrument
    >>> "On 6,000 simulated spectra it had not seen: macro F1 0.65" in model_note(card)
    True
    >>> model_note({})[:60]
    'The model card does not say what the model was trained on (a'
    """
    sentences = []
    trained = _trained_on(card)
    sentences.append(
        trained
        or "The model card does not say what the model was trained on (a model made before "
        "pigmentmap recorded it)."
    )
    labels = card.get("label_names")
    if isinstance(labels, list | tuple) and labels:
        sentences.append(f"It knows {len(labels)} classes: {', '.join(map(str, labels))}.")
    made = _made(card)
    if made:
        sentences.append(made)
    sentences += _figures(card)
    return " ".join(sentences)
