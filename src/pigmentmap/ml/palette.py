"""A model narrowed to the pigments a painting can hold: ``pigmentmap palette``.

A conservator often knows the candidate palette before mapping: a mock-up made with known
paints, a period that rules out modern pigments, earlier samples. The default model answers for
all its classes, and where XRF sees the same elements (cobalt blue with a tin-based lake against
cerulean blue; lead white against red lead and lead-tin yellow) its choice follows the mix of
its training palette, not this painting's. Told the palette, the question narrows to "which of
*these* pigments are here", and the look-alikes outside it cannot take the claim.

:func:`palette_model` does this in minutes on 2 cores, without touching what the model learnt
about spectra:

1. simulate the ``universal`` design (random paintings on random instruments,
   :func:`pigmentmap.datasets.universal.universal_design`) with only the palette's pigments;
2. keep the network's convolutional trunk frozen (weights and BatchNorm statistics) and train a
   new linear head with one output per palette pigment, under the same instrument
   randomisation and label rule as the model itself (:class:`pigmentmap.ml.augment.Augmenter`).
   A pigment the model knows starts from its own row of the head; a library pigment it does not
   know starts from zero and is learnt from the trunk's features alone;
3. the layer head (top / under): the trunk is unchanged, so where the model has a layer head on
   its features and knows every pigment of the palette, its head is cut to the palette's
   outputs (the same answers; on the paper's palette it scored a layer accuracy of 0.741 on the
   held-out stacks, where a head retrained on the palette's own stacks scored 0.706, both on the
   layers as simulated; the head shipped since scores 0.764 on labels physics can back); otherwise
   a head is trained on the same stacks (:func:`pigmentmap.ml.layers.train_layer_model`);
4. calibrate and find the look-alike groups that remain inside the palette
   (:func:`pigmentmap.ml.calibrate.card_entries`), on a held-out fifth of the stacks.

The stacks are split once by a seeded shuffle: the first fifth is held out (calibration and
every figure in the card), the next tenth is validation (the head with the least validation loss
is kept), the rest trains. The layer head uses the same split.

A palette model is only as good as the palette is true: a pigment that is present but left out
cannot be found, and its elements may be claimed as a palette pigment that shares them.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.materials.library import PigmentLibrary
from pigmentmap.ml.fast_cnn import FastCNN

#: Held-out share of the simulated stacks (:func:`pigmentmap.ml.train.held_out_split` splits
#: them; the layer head's split is the same).
HOLD_OUT_FRACTION = 0.2
#: Fewest stacks a palette model is trained from.
MIN_STACKS = 100


@dataclass(frozen=True)
class PaletteSettings:
    """How a palette model is made.

    Parameters
    ----------
    n_stacks : int
        Simulated paintings (random instruments drawn per 256 of them).
    epochs : int
        Epochs of the pigment head (cosine learning rate; least validation loss kept).
    learning_rate : float
    batch_size : int
    seed : int
        Seed of the design, the split, the draws and the head.
    """

    n_stacks: int = 6000
    epochs: int = 10
    learning_rate: float = 1e-3
    batch_size: int = 64
    seed: int = 0


def palette_names(pigments: Sequence[str], library: PigmentLibrary) -> tuple[str, ...]:
    """The library names of ``pigments`` (names, aliases or formulas), checked.

    Refuses an empty palette, a name the library does not know, a ground, binder or trace (not a
    pigment), and a pigment named twice.

    Examples
    --------
    >>> from pigmentmap.materials import default_library
    >>> palette_names(["lead white", "VM"], default_library())
    ('lead_white', 'vermilion')
    """
    if not pigments:
        raise PigmentmapError("a palette needs at least one pigment")
    names: list[str] = []
    for given in pigments:
        p = library[given]
        if p.kind != "pigment":
            raise PigmentmapError(f"'{given}' is a {p.kind}, not a pigment: leave it out")
        if p.name in names:
            raise PigmentmapError(f"'{given}' is named twice in the palette")
        names.append(p.name)
    return tuple(names)


def _head_from(base: FastCNN, base_names: Sequence[str], names: Sequence[str]) -> FastCNN:
    """A network with ``base``'s trunk and a head for ``names``: rows of ``base``'s head where it
    has the class, zeros where not."""
    model = FastCNN(
        n_inputs=base.n_inputs, n_classes=len(names), n_input_channels=base.n_input_channels
    )
    model.features.load_state_dict(base.features.state_dict())
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        for row, name in enumerate(names):
            if name in base_names:
                k = list(base_names).index(name)
                model.head.weight[row] = base.head.weight[k]
                model.head.bias[row] = base.head.bias[k]
    return model


def _sliced_layer_head(head: Any, base_names: Sequence[str], names: Sequence[str]) -> Any:
    """``head`` (a :class:`~pigmentmap.ml.layers.LayerHead` for ``base_names``) cut to the
    outputs of ``names``: the same function of the features for each of them."""
    from pigmentmap.ml.layers import LayerHead

    k = len(base_names)
    cols = [list(base_names).index(n) for n in names]
    rows = torch.tensor(cols + [k + c for c in cols])
    last = f"net.{len(head.net) - 1}."
    state = {
        key: value[rows] if key.startswith(last) else value
        for key, value in head.state_dict().items()
    }
    out = LayerHead(n_features=head.net[0].in_features, n_classes=len(names), hidden=head.hidden)
    out.load_state_dict(state)
    return out.eval()


def palette_model(
    model_dir: str | Path,
    pigments: Sequence[str],
    *,
    out: str | Path,
    settings: PaletteSettings = PaletteSettings(),
    progress: bool = True,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write to ``out`` a copy of the model ``model_dir`` that answers for ``pigments`` only.

    Parameters
    ----------
    model_dir : str or Path
        A shipped model's name or a model folder; it must be a ``fast-cnn`` on the canonical
        input (as ``universal`` is).
    pigments : sequence of str
        The palette: default-library pigment names, aliases or formulas.
    out : str or Path
        The new model folder (written at once when complete).
    settings : PaletteSettings
    progress : bool
        Progress bars of the simulation and the training.
    overwrite : bool
        Replace ``out`` if it exists.
    log : callable, optional
        Called with one line per step done.
    extra : dict, optional
        More entries for the card's ``"palette"`` record (e.g. the cache key of
        :func:`pigmentmap.ml.palette_cache.palette_for`).

    Returns
    -------
    dict
        The new model's card; ``card["palette"]`` says how it was made.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pigmentmap.ml.palette import PaletteSettings, palette_model
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "two"
    >>> card = palette_model("universal", ["vermilion", "lead white"], out=out,
    ...     settings=PaletteSettings(n_stacks=120, epochs=1), progress=False)
    >>> card["label_names"]
    ['vermilion', 'lead_white']
    """
    from pigmentmap import __version__
    from pigmentmap.datasets.own_lines import label_rule
    from pigmentmap.datasets.store import generate_dataset, read_dataset
    from pigmentmap.datasets.universal import universal_design
    from pigmentmap.evaluate.layers import describe_sure
    from pigmentmap.evaluate.metrics import class_metrics
    from pigmentmap.instruments import load_instrument
    from pigmentmap.materials import default_library
    from pigmentmap.ml.augment import Augmenter, AugmentSettings
    from pigmentmap.ml.calibrate import card_entries
    from pigmentmap.ml.checkpoint import (
        load_model,
        read_card,
        save_model,
        sha256_file,
        update_model,
    )
    from pigmentmap.ml.finetune import freeze_features
    from pigmentmap.ml.layers import (
        HEAD_HIDDEN,
        LAYER_FILE,
        LayersOnFeatures,
        layer_augmenter,
        layer_test,
        load_layer_model,
        train_layer_model,
        with_threshold,
    )
    from pigmentmap.ml.train import (
        AugmentedSource,
        fit,
        held_out_split,
        predict_proba,
        set_determinism,
    )

    say = log or (lambda _line: None)
    out = Path(out)
    if out.exists() and not overwrite:
        raise PigmentmapError(f"'{out}' exists (use --overwrite to replace it)")
    if not out.parent.is_dir():
        raise PigmentmapError(f"output folder '{out.parent}' does not exist")
    if settings.n_stacks < MIN_STACKS:
        raise PigmentmapError(f"a palette model needs at least {MIN_STACKS} stacks")
    if settings.epochs < 1:
        raise PigmentmapError("a palette model needs at least one epoch")
    library = default_library()
    names = palette_names(pigments, library)
    base, card, pre = load_model(model_dir)
    if not isinstance(base, FastCNN) or not pre.masked:
        raise PigmentmapError(
            f"'{model_dir}' is not a fast-cnn on the canonical input: a palette narrows a model "
            "such as universal"
        )
    base_names = tuple(card["label_names"])
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="pigmentmap-palette-") as tmp_dir:
        tmp = Path(tmp_dir)
        t0 = time.perf_counter()
        data_path = generate_dataset(
            universal_design(library, n=settings.n_stacks, seed=settings.seed, pigments=names),
            instrument=load_instrument("elio"), out=tmp / "palette.h5", seed=settings.seed,
            library_hash=library.hash, noise=False, progress=progress,
        )  # fmt: skip
        seconds["simulate"] = time.perf_counter() - t0
        say(
            f"simulated {settings.n_stacks} paintings of the palette in {seconds['simulate']:.0f} s"
        )
        data = read_dataset(data_path)
        assert data.labels is not None and data.detectability is not None
        augment = AugmentSettings()
        augmenter = Augmenter(
            data.spectra, data.axis, data.labels, data.detectability, pre, augment
        )
        hold, val, tr = held_out_split(
            len(data.spectra), test_fraction=HOLD_OUT_FRACTION, seed=settings.seed
        )
        x_val, y_val, w_val = augmenter.draw(val, np.random.default_rng([settings.seed, 2]))
        x_hold, y_hold, w_hold = augmenter.draw(hold, np.random.default_rng([settings.seed, 1]))

        set_determinism(settings.seed)
        model = _head_from(base, base_names, names)
        freeze_features(model, True)
        result = fit(
            model, AugmentedSource(augmenter, tr), None, x_val, y_val, w_val=w_val,
            epochs=settings.epochs, patience=settings.epochs, batch_size=settings.batch_size,
            learning_rate=settings.learning_rate, seed=settings.seed, label_names=names,
            parameters=list(model.head.parameters()), progress=progress, desc="palette head",
            monitor="loss", lr_schedule="cosine", frozen=model.features,
        )  # fmt: skip
        freeze_features(model, False)
        seconds["head"] = result["seconds"]
        raw = predict_proba(model, x_hold, batch_size=256)
        metrics = class_metrics(y_hold, raw, names, mask=w_hold)
        say(
            f"trained the head in {seconds['head']:.0f} s: held-out macro F1 "
            f"{metrics['macro_f1']:.3f} on {len(hold)} measurements"
        )
        new_card: dict[str, Any] = {
            "architecture": card["architecture"],
            "label_names": list(names),
            "preprocessor": card["preprocessor"],
            "instrument": card.get("instrument", ""),
            "instrument_hash": card.get("instrument_hash", ""),
            "library_hash": library.hash,
            "data": {
                "file": f"{data_path.name} (simulated, not kept)",
                "sha256": sha256_file(data_path),
                "n_spectra": len(data.spectra),
                "design": "universal",
                "info": f"palette of {len(names)}: {', '.join(names)}",
                "n_test": len(hold),
            },
            "training": {
                "architecture": card["architecture"],
                "trained": "the head only; the trunk is the base model's, frozen",
                "folds_trained": 1,
                "best_fold": 1,
                "epochs_run": result["epochs_run"],
                "best_epoch": result["best_epoch"],
                "seconds_total": result["seconds"],
                "seconds_per_epoch": result["seconds_per_epoch"],
                "augment": augment.to_dict(),
                "label_rule": label_rule(augment.sigma, data.attrs.get("detectability_rule")),
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "pigmentmap": __version__,
                **{k: v for k, v in asdict(settings).items() if k != "n_stacks"},
            },
            "metrics": {"test_best_fold": metrics},
            "palette": {
                "from": str(model_dir),
                "from_weights_sha256": card["weights"]["sha256"],
                "pigments": list(names),
                "from_model_head": [n for n in names if n in base_names],
                "new_to_model": [n for n in names if n not in base_names],
                "settings": asdict(settings),
                **(extra or {}),
            },
        }
        work = tmp / "model"
        save_model(model, new_card, work)

        t0 = time.perf_counter()
        base_layers = load_layer_model(model_dir, trunk=base)
        if isinstance(base_layers, LayersOnFeatures) and all(n in base_names for n in names):
            # The trunk is unchanged, so the base model's layer head (trained on its own, larger
            # set) gives the same answers for these pigments: cut it to them, and measure it.
            head = _sliced_layer_head(base_layers.head, base_names, names)
            drawn = layer_augmenter(data, names, pre).draw(
                hold, np.random.default_rng([settings.seed, 1])
            )
            layer_metrics = layer_test(LayersOnFeatures(model, head), drawn, names)
            entry = {
                **{k: v for k, v in card["layers"].items() if k not in ("weights", "data")},
                "data": {"file": new_card["data"]["file"], "sha256": new_card["data"]["sha256"],
                         "n_spectra": len(data.spectra), "n_test": len(hold)},
                "training": {"sliced_from": str(model_dir),
                             "rows": "the base model's layer head, its outputs for the palette"},
                "metrics": {"test": layer_metrics},
                "trunk_sha256": read_card(work)["weights"]["sha256"],
            }  # fmt: skip
            update_model(work, work, {"layers": with_threshold(entry)},
                         modules={"layers": (LAYER_FILE, head)}, overwrite=True)  # fmt: skip
            how = f"cut {model_dir}'s layer head to the palette"
        elif base_layers is not None:
            hidden = card["layers"].get("hidden", HEAD_HIDDEN)
            entry = train_layer_model(
                work, data, out=work, seed=settings.seed, progress=progress, overwrite=True,
                test_fraction=HOLD_OUT_FRACTION,
                hidden=hidden if isinstance(hidden, int) else HEAD_HIDDEN,
            )  # fmt: skip
            layer_metrics = entry["metrics"]["test"]
            how = "trained the layer head"
        if base_layers is not None:
            seconds["layers"] = time.perf_counter() - t0
            say(f"{how} in {seconds['layers']:.0f} s: layer accuracy "
                f"{layer_metrics['layer_accuracy']:.3f}; "
                f"{describe_sure(layer_metrics.get('sure'))}")  # fmt: skip
        else:
            say(f"'{model_dir}' has no layer outputs: the palette model has none either")

        t0 = time.perf_counter()
        half = len(hold) // 2
        entries = card_entries(
            names, (y_hold[:half], raw[:half], w_hold[:half]),
            (y_hold[half:], raw[half:], w_hold[half:]),
            source={"part": "held-out fifth of the palette's stacks", "n_fit": half,
                    "n_test": len(hold) - half, "seed": settings.seed},
            model=model, fit_inputs=x_hold[:half], energies_kev=pre.energies_kev,
        )  # fmt: skip
        seconds["calibrate"] = time.perf_counter() - t0
        m = entries["calibration"]["metrics"]
        say(
            f"calibrated in {seconds['calibrate']:.0f} s: ECE {m['ece']:.3f}, "
            f"group F1 {m['group_f1']:.3f}"
        )
        palette_entry = {
            **read_card(work)["palette"],
            "seconds": {k: round(v, 1) for k, v in seconds.items()},
        }
        update_model(work, out, {**entries, "palette": palette_entry}, overwrite=overwrite)
    return read_card(out)
