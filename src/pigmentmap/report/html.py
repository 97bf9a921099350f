"""``pigmentmap report results/``: a self-contained HTML page with the paper's Fig. 5 comparison.

For every pigment: its probability map, the map(s) of its key element(s), an overlay (pigment in
red, elements in green and blue, each scaled to its 99th percentile) and the scatter of pigment
probability against element concentration (the smaller of the two normalised elements where a
pigment has two); the run's parameters; per-pixel Table-3 metrics when ground truth exists.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pigmentmap.core.atomic import atomic_path, record_written
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.evaluate.metrics import class_metrics, format_table
from pigmentmap.materials.formula import atomic_number
from pigmentmap.materials.library import PigmentLibrary, default_library


def key_elements(
    pigment: str, available: tuple[str, ...], *, library: PigmentLibrary | None = None
) -> list[str]:
    """Up to two heaviest elements of a pigment (>= 5 % by mass) that have element maps.

    Examples
    --------
    >>> key_elements("emerald_green", ("Ca", "Cu", "As", "Pb"))
    ['As', 'Cu']
    """
    lib = library or default_library()
    if pigment not in lib:
        return []
    comp = lib[pigment].composition
    els = [
        e
        for e in sorted(comp, key=atomic_number, reverse=True)
        if comp[e] >= 0.05 and e in available
    ]
    return els[:2]


def scaled(image: np.ndarray) -> np.ndarray:
    """Divide by the 99th percentile and clip to [0, 1] (the paper's scaling)."""
    p99 = float(np.percentile(image, 99))
    return np.clip(image / p99, 0.0, 1.0) if p99 > 0 else np.zeros_like(image)


def _figure(prob: np.ndarray, elements: dict[str, np.ndarray], name: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    els = list(elements)
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2), dpi=90)
    axes[0].imshow(prob, cmap="Reds", vmin=0, vmax=1, interpolation="nearest")
    axes[0].set_title(f"{name}: probability", fontsize=9)
    if els:
        mix = np.zeros((*prob.shape, 3))
        mix[..., 1] = scaled(elements[els[0]])
        if len(els) > 1:
            mix[..., 2] = scaled(elements[els[1]])
        axes[1].imshow(
            mix if len(els) > 1 else mix[..., 1],
            cmap=None if len(els) > 1 else "Greens",
            interpolation="nearest",
        )
        axes[1].set_title(
            " + ".join(f"{e} ({c})" for e, c in zip(els, ("green", "blue"), strict=False)),
            fontsize=9,
        )
        overlay = mix.copy()
        overlay[..., 0] = np.clip(prob, 0, 1)
        axes[2].imshow(overlay, interpolation="nearest")
        axes[2].set_title("overlay: pigment red, elements green/blue", fontsize=9)
        conc = np.minimum.reduce([scaled(elements[e]) for e in els])
        axes[3].scatter(conc.ravel(), prob.ravel(), s=4, alpha=0.4)
        axes[3].set_xlabel(
            f"{'min of ' if len(els) > 1 else ''}{' / '.join(els)} (99th-percentile scaled)",
            fontsize=8,
        )
        axes[3].set_ylabel("probability", fontsize=8)
        axes[3].set_ylim(-0.02, 1.02)
    else:
        for ax in axes[1:]:
            ax.text(0.5, 0.5, "no key element mapped", ha="center", va="center")
    for ax in axes[:3]:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def load_results(folder: str | Path) -> dict[str, Any]:
    """The arrays and attributes of ``folder/maps.h5``."""
    path = Path(folder) / "maps.h5"
    if not path.is_file():
        raise PigmentmapError(f"'{folder}' holds no maps.h5 (run pigmentmap map first)")

    def _names(ds: Any) -> tuple[str, ...]:
        return tuple(x.decode() if isinstance(x, bytes) else str(x) for x in ds[()])

    with h5py.File(path, "r") as f:
        out: dict[str, Any] = {
            "prob": f["pigment_maps"][()],
            "names": _names(f["names"]),
            "elements": f["element_maps"][()]
            if "element_maps" in f
            else np.zeros((*f["pigment_maps"].shape[:2], 0)),
            "element_names": _names(f["element_names"]) if "element_names" in f else (),
            "attrs": {
                k: (v if isinstance(v, str | int | float) else str(v)) for k, v in f.attrs.items()
            },
        }
        if "truth/pigment_maps" in f:
            out["truth"] = f["truth/pigment_maps"][()]
            out["truth_names"] = _names(f["truth/names"])
        if "truth/top_strip" in f:
            out["strips"] = (f["truth/top_strip"][()], f["truth/bottom_strip"][()])
    return out


def pixel_metrics(results: dict[str, Any]) -> dict[str, Any] | None:
    """Per-pixel Table-3 metrics against ground truth maps, when present."""
    if "truth" not in results:
        return None
    names = results["names"]
    truth_names = results["truth_names"]
    common = [n for n in names if n in truth_names]
    if not common:
        return None
    prob = np.stack([results["prob"][..., names.index(n)] for n in common], axis=-1).reshape(
        -1, len(common)
    )
    truth = np.stack(
        [results["truth"][..., truth_names.index(n)] for n in common], axis=-1
    ).reshape(-1, len(common))
    return class_metrics(truth, prob, common)


def write_report(folder: str | Path, *, out: str | Path | None = None) -> Path:
    """Write ``folder/report.html`` (or ``out``); returns its path."""
    res = load_results(folder)
    target = Path(out) if out else Path(folder) / "report.html"
    available = res["element_names"]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>pigmentmap report</title>",
             "<style>body{font-family:sans-serif;max-width:1300px;margin:auto}img{max-width:100%}"
             "pre{background:#f4f4f4;padding:8px}</style></head><body>",
             f"<h1>Pigment maps of {html.escape(str(res['attrs'].get('source', '')))}</h1>"]  # fmt: skip
    attrs = res["attrs"]
    card = json.loads(attrs.get("model_card", "{}"))
    params = {
        "model": attrs.get("model"),
        "architecture": card.get("architecture"),
        "model data": card.get("data", {}).get("design"),
        "binning": attrs.get("binning"),
        "source SHA-256": attrs.get("source_sha256"),
        "calibration": attrs.get("axis"),
        "pixels": f"{res['prob'].shape[0]} x {res['prob'].shape[1]}",
    }
    parts.append(
        "<h2>Run</h2><pre>"
        + html.escape("\n".join(f"{k}: {v}" for k, v in params.items()))
        + "</pre>"
    )
    metrics = pixel_metrics(res)
    if metrics is not None:
        parts.append(
            "<h2>Per-pixel metrics against the ground truth (threshold 0.5)</h2><pre>"
            + html.escape(format_table(metrics))
            + "</pre>"
        )
    if "strips" in res and "vermilion" in res["names"]:
        from pigmentmap.mapping.phantom import detection_by_strip

        rows = detection_by_strip(res["prob"][..., res["names"].index("vermilion")], *res["strips"])
        lines = [
            f"{'strip':14} {'VM %':>6} {'found bare':>11} {'found under top':>16} {'mean p':>7}"
        ]
        lines += [
            f"{r['strip']:14} {r['percent']:6.1f} {r['found_bare']:11.2f} {r['found_under_top']:16.2f} {r['mean_probability']:7.2f}"
            for r in rows
        ]
        parts.append(
            "<h2>Vermilion by bottom strip (where the top layer holds none)</h2><pre>"
            + html.escape("\n".join(lines))
            + "</pre>"
        )
    parts.append("<h2>Pigments and their elements</h2>")
    for k, name in enumerate(res["names"]):
        els = key_elements(name, available)
        emaps = {e: res["elements"][..., available.index(e)] for e in els}
        parts.append(
            f"<h3>{html.escape(name)}</h3><img alt='{html.escape(name)}' src='data:image/png;base64,{_figure(res['prob'][..., k], emaps, name)}'>"
        )
    parts.append("</body></html>")
    with atomic_path(target) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    if target.parent.resolve() == Path(folder).resolve():
        record_written(folder, target.name)  # a later map --overwrite may replace it
    return target
