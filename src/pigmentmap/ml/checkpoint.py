"""Model directories: ``weights.safetensors`` + ``card.json``; never pickle.

The card holds everything inference needs (architecture, label names, preprocessing, instrument)
and how the model was made (data and library hashes, training settings, metrics). Loading checks
the weights' SHA-256 and every tensor's shape against the card.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from pigmentmap.core.atomic import atomic_dir
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.ml.registry import create_model
from pigmentmap.preprocess.preprocessor import Preprocessor

WEIGHTS = "weights.safetensors"
CARD = "card.json"
FORMAT = "pigmentmap-model/1"


def sha256_file(path: str | Path, *, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def shipped_models() -> dict[str, Path]:
    """Models shipped inside the package, by name.

    Examples
    --------
    >>> isinstance(shipped_models(), dict)
    True
    """
    root = resources.files("pigmentmap.ml").joinpath("shipped")
    out: dict[str, Path] = {}
    if root.is_dir():
        for d in root.iterdir():
            if d.is_dir() and d.joinpath(CARD).is_file():
                out[d.name] = Path(str(d))
    return out


def resolve_model(name_or_dir: str | Path) -> Path:
    """A model directory, or the directory of a shipped model of that name."""
    p = Path(name_or_dir)
    if p.is_dir():
        return p
    shipped = shipped_models()
    if str(name_or_dir) in shipped:
        return shipped[str(name_or_dir)]
    known = ", ".join(sorted(shipped)) or "none"
    raise PigmentmapError(
        f"no model directory '{name_or_dir}' and no shipped model of that name (shipped: {known})"
    )


def _weights_spec(model: torch.nn.Module, path: Path) -> dict[str, Any]:
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, path)
    return {
        "file": path.name,
        "sha256": sha256_file(path),
        "shapes": {k: list(v.shape) for k, v in state.items()},
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
    }


def save_model(
    model: torch.nn.Module, card: dict[str, Any], out: str | Path, *, overwrite: bool = False
) -> Path:
    """Write ``out/`` atomically (a temporary folder renamed into place)."""
    with atomic_dir(out, overwrite=overwrite, marker=CARD) as tmp:
        card = dict(card)
        card["format"] = FORMAT
        card["weights"] = _weights_spec(model, tmp / WEIGHTS)
        (tmp / CARD).write_text(json.dumps(card, indent=2) + "\n")
    return Path(out)


def update_model(
    model_dir: str | Path,
    out: str | Path,
    changes: dict[str, Any],
    *,
    modules: dict[str, tuple[str, torch.nn.Module]] | None = None,
    overwrite: bool = False,
) -> Path:
    """A copy of a model with card entries replaced by ``changes`` (``out`` may be the model itself).

    ``modules`` maps a card key to ``(file name, module)``: the module's weights are written to
    that file and described under ``card[key]["weights"]`` (e.g. the layer model). The original
    weights are copied byte for byte and checked against their hash first.
    """
    import shutil

    src = resolve_model(model_dir)
    card = read_card(src)
    card.update(changes)
    with atomic_dir(out, overwrite=overwrite, marker=CARD) as tmp:
        for key, (name, module) in (modules or {}).items():
            card[key] = {**card.get(key, {}), "weights": _weights_spec(module, tmp / name)}
        written = {n for n, _ in (modules or {}).values()}
        for name, spec in _weight_specs(card).items():
            if name in written:
                continue
            source = _inside(src, name)
            if not source.is_file():
                raise PigmentmapError(f"model directory '{src}' has no {name}")
            shutil.copyfile(source, tmp / name)
            if sha256_file(tmp / name) != spec.get("sha256"):
                raise PigmentmapError(f"'{source}' does not match the SHA-256 in its card")
        (tmp / CARD).write_text(json.dumps(card, indent=2) + "\n")
    return Path(out)


def _weight_specs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """File name -> weights entry, for the main weights and every entry that has its own."""
    out = {card["weights"]["file"]: card["weights"]}
    for entry in card.values():
        if isinstance(entry, dict) and isinstance(entry.get("weights"), dict):
            out[entry["weights"]["file"]] = entry["weights"]
    return out


def _inside(model_dir: Path, name: Any) -> Path:
    """``model_dir / name``, refusing a name that leaves the folder."""
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise PigmentmapError(f"the card of '{model_dir}' names a weights file outside its folder")
    return model_dir / name


def load_state(model_dir: str | Path, spec: Any, module: torch.nn.Module) -> torch.nn.Module:
    """Load weights described by a card entry ``spec`` into ``module`` (checked: hash, shapes).

    Never unpickles; refuses a file outside the model folder, a hash or shapes that differ.
    """
    d = Path(model_dir)
    if not isinstance(spec, dict):
        raise PigmentmapError(f"the card of '{d}' has a malformed weights entry")
    weights = _inside(d, spec.get("file", WEIGHTS))
    if not weights.is_file():
        raise PigmentmapError(f"model directory '{d}' has no {weights.name}")
    if sha256_file(weights) != spec.get("sha256"):
        raise PigmentmapError(
            f"'{weights}' does not match the SHA-256 in its card (tampered or corrupt)"
        )
    try:
        state = load_file(weights)
    except Exception as err:  # safetensors raises its own error types
        raise PigmentmapError(f"cannot read '{weights}': {err}") from None
    expected = {k: list(v.shape) for k, v in module.state_dict().items()}
    got = {k: list(v.shape) for k, v in state.items()}
    if got != expected or got != spec.get("shapes"):
        bad = sorted(k for k in set(expected) | set(got) if expected.get(k) != got.get(k))
        raise PigmentmapError(
            f"weights in '{d}' do not match the card's architecture ({', '.join(bad[:3]) or 'shapes'})"
        )
    module.load_state_dict(state, strict=True)
    module.eval()
    return module


def read_card(model_dir: str | Path) -> dict[str, Any]:
    """The model card of a model directory or shipped model."""
    d = resolve_model(model_dir)
    path = d / CARD
    if not path.is_file():
        raise PigmentmapError(f"model directory '{d}' has no {CARD}")
    try:
        card = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PigmentmapError(f"'{path}' is not valid JSON ({err.msg})") from None
    for key in ("format", "architecture", "label_names", "preprocessor", "weights"):
        if key not in card:
            raise PigmentmapError(f"'{path}' lacks '{key}'")
    if card["format"] != FORMAT:
        raise PigmentmapError(f"'{path}' has format {card['format']!r}, expected {FORMAT!r}")
    _check_card(card, path)
    return card


def _check_card(card: dict[str, Any], path: Path) -> None:
    """Refuse a card whose entries have the wrong types or absurd sizes, before anything is
    allocated from them (a hand-edited card is not covered by the weights' hash)."""

    def bad(what: str) -> PigmentmapError:
        return PigmentmapError(f"'{path}': {what}")

    names = card["label_names"]
    if not isinstance(names, list) or not 1 <= len(names) <= 1000:
        raise bad("label_names must be a list of 1-1000 names")
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise bad("label_names must be distinct, non-empty strings")
    if not isinstance(card["architecture"], str):
        raise bad("architecture must be a name")
    pre = card["preprocessor"]
    if not isinstance(pre, dict):
        raise bad("preprocessor must be a table")
    n_ch = pre.get("n_channels")
    if not isinstance(n_ch, int) or isinstance(n_ch, bool) or not 8 <= n_ch <= 65536:
        raise bad("preprocessor.n_channels must be an integer of 8-65536")
    for key in ("offset_kev", "gain_kev"):
        value = pre.get(key)
        if not isinstance(value, int | float) or value != value or abs(value) > 1e3:
            raise bad(f"preprocessor.{key} must be a finite number")
    if not pre["gain_kev"] > 0:
        raise bad("preprocessor.gain_kev must be positive")
    weights = card["weights"]
    if not isinstance(weights, dict) or not isinstance(weights.get("sha256"), str):
        raise bad("weights must be a table with the file's sha256")
    if not isinstance(weights.get("shapes", {}), dict):
        raise bad("weights.shapes must be a table")


def load_model(model_dir: str | Path) -> tuple[torch.nn.Module, dict[str, Any], Preprocessor]:
    """Load a model: (module in eval mode, card, preprocessor). Never unpickles anything.

    Refuses missing files, weights whose hash differs from the card's (tampered or corrupt) and
    tensors whose shapes differ from the card or the architecture.
    """
    d = resolve_model(model_dir)
    card = read_card(d)
    pre = Preprocessor.from_dict(card["preprocessor"])
    model = create_model(
        card["architecture"],
        n_inputs=pre.n_channels,
        n_classes=len(card["label_names"]),
        n_input_channels=2 if pre.masked else 1,
    )
    load_state(d, card["weights"], model)
    return model, card, pre
