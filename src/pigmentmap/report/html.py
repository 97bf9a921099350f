"""``pigmentmap report results/``: a self-contained HTML page with the paper's Fig. 5 comparison.

For every pigment: its probability map, the map of its key element(s) (the smaller of the two
normalised elements where a pigment has two, each scaled to its 99th percentile), an overlay
(elements in grey, the pigment's claim outlined in orange: colour-blind safe) and the scatter of
pigment probability against element concentration; the run's parameters; per-pixel Table-3
metrics when ground truth exists. Before them: what the model was trained on and what its
figures mean, a summary table, notes (with every notice of the map run), look-alike groups,
calibration and layers; element maps with flagged maps marked; scale bars on every map where
the pixel size is known (see :func:`write_report`).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from pigmentmap.core.atomic import atomic_path, record_written
from pigmentmap.evaluate.metrics import class_metrics, format_table
from pigmentmap.materials.library import PigmentLibrary
from pigmentmap.report.notes import merge_notes, model_note, run_notes
from pigmentmap.report.scale import (
    ScaleBar,
    draw_scale_bar,
    map_pixel_size,
    pixel_size_text,
    scale_bar,
)


def key_elements(
    pigment: str, available: tuple[str, ...], *, library: PigmentLibrary | None = None
) -> list[str]:
    """Up to two heaviest key elements of a pigment (see :mod:`pigmentmap.mapping.evidence`)
    that have element maps.

    Examples
    --------
    >>> key_elements("emerald_green", ("Ca", "Cu", "As", "Pb"))
    ['As', 'Cu']
    """
    from pigmentmap.mapping.evidence import key_elements as keys

    return [e for e in keys(pigment, library=library) if e in available][:2]


def scaled(image: np.ndarray) -> np.ndarray:
    """Divide by the 99th percentile and clip to [0, 1] (the paper's scaling)."""
    p99 = float(np.percentile(image, 99))
    return np.clip(image / p99, 0.0, 1.0) if p99 > 0 else np.zeros_like(image)


def _figure(
    prob: np.ndarray,
    elements: dict[str, np.ndarray],
    name: str,
    *,
    bar: ScaleBar | None = None,
    flagged: tuple[str, ...] = (),
) -> str:
    """Probability, key element(s), overlay and scatter (the paper's Fig. 5), in colour-blind
    safe colours: sequential maps with colour bars, the overlay as the element in grey with the
    pigment's claim (p >= 0.5) outlined in orange; ``bar`` on each map, ``flagged`` elements
    marked in the element map's title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    els = list(elements)
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4), dpi=90)
    im = axes[0].imshow(prob, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=axes[0], fraction=0.046, pad=0.04, label="probability")
    axes[0].set_title(f"{name}: probability", fontsize=9)
    if els:
        conc = np.minimum.reduce([scaled(elements[e]) for e in els])
        label = f"{'min of ' if len(els) > 1 else ''}{' / '.join(els)} (99th-percentile scaled)"
        im = axes[1].imshow(conc, cmap="cividis", vmin=0, vmax=1, interpolation="nearest")
        fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.04, label="scaled counts")
        marks = [f"{e} (flagged)" if e in flagged else e for e in els]
        axes[1].set_title(" and ".join(marks) + " (counts, scaled)", fontsize=9,
                          color="#D55E00" if set(els) & set(flagged) else "black")  # fmt: skip
        axes[2].imshow(conc, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        if (prob >= 0.5).any() and (prob < 0.5).any() and min(prob.shape) > 1:
            axes[2].contour(prob, levels=[0.5], colors=["#E69F00"], linewidths=1.5)
        axes[2].legend(handles=[Line2D([], [], color="#E69F00", label=f"{name} p >= 0.5")],
                       loc="lower right", fontsize=7, framealpha=0.8)  # fmt: skip
        axes[2].set_title("overlay: elements grey, claim outlined", fontsize=9)
        axes[3].scatter(conc.ravel(), prob.ravel(), s=4, alpha=0.4, color="#0072B2")
        axes[3].set_xlabel(label, fontsize=8)
        axes[3].set_ylabel("probability", fontsize=8)
        axes[3].set_ylim(-0.02, 1.02)
    else:
        for ax in axes[1:]:
            ax.text(0.5, 0.5, "no key element mapped", ha="center", va="center")
    for ax in axes[:3]:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[: 3 if els else 1]:
        draw_scale_bar(ax, bar, image_height_px=prob.shape[0])
    fig.tight_layout()
    return _png_b64(fig)


def load_results(folder: str | Path) -> dict[str, Any]:
    """The arrays and metadata of ``folder/maps.h5`` (see :func:`pigmentmap.mapping.results.read_results`)."""
    from pigmentmap.mapping.results import read_results

    return read_results(folder)


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


def _png_b64(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def summary_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per class claimed (p >= 0.5) anywhere: area, mean probability there, evidence,
    look-alike group and layer calls; sorted by area."""
    from pigmentmap.mapping.evidence import UNSUPPORTED

    ev = res.get("evidence", {})
    groups = res.get("group_list", [])
    group_of = {
        m: " | ".join(g["members"]) for g in groups if len(g["members"]) > 1 for m in g["members"]
    }
    prob, n = res["prob"], res["prob"].shape[0] * res["prob"].shape[1]
    min_conf = layer_threshold(res)
    from pigmentmap.mapping.alternatives import describe_alternatives, mixture_alternatives

    mixtures = mixture_alternatives(res["names"])
    member_lists = [g["members"] for g in groups]
    rows = []
    for k, name in enumerate(res["names"]):
        claimed = prob[..., k] >= 0.5
        raw_claims = res.get("raw", prob)[..., k] >= 0.5
        if not claimed.any() and not raw_claims.any():
            continue
        row: dict[str, Any] = {
            "pigment": name,
            "area_percent": 100.0 * claimed.sum() / n,
            "mean_probability": float(prob[..., k][claimed].mean()) if claimed.any() else 0.0,
            "key_elements": "/".join(ev.get("key_elements", {}).get(name, [])) or "none XRF checks",
            "unsupported_percent": 100.0 * float(
                (raw_claims & (res["support"][..., k] == UNSUPPORTED)).sum() / n
            ) if "support" in res else None,
            "group": group_of.get(name, ""),
            "or_mixture": describe_alternatives(mixtures[name], member_lists)
            if name in mixtures else "",
            "layer": "",
            "below_detection_percent": 100.0 * float(
                (res["support"][..., k] == UNSUPPORTED).sum() / n
            ) if "support" in res else None,
        }  # fmt: skip
        if "layers" in res and claimed.any():
            from pigmentmap.evaluate.layers import LAYER_NAMES, layer_calls

            calls = layer_calls(res["layers"][..., k, :][claimed], min_confidence=min_conf)
            shares = [
                f"{lbl} {100 * (calls == c).mean():.0f} %"
                for c, lbl in enumerate(LAYER_NAMES)
                if (calls == c).any()
            ]
            row["layer"] = ", ".join(shares)
        rows.append(row)
    return sorted(rows, key=lambda r: -r["area_percent"])


#: Okabe-Ito colours (colour-blind safe) for the layer calls top, under, both; uncertain
#: calls are hatched grey.
LAYER_COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#888888")


def layer_threshold(res: dict[str, Any]) -> float:
    """The confidence below which the results' layer calls are shown as uncertain: the model
    card's (0 for a model from before it: every call shown)."""
    from pigmentmap.evaluate.layers import card_min_confidence

    return card_min_confidence(res.get("model_card") or {}) or 0.0


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("pigment", "area (% of pixels)", "mean p there", "key elements",
            "claims without them (% of pixels)",
            "key element not detected: any of it below detection (% of pixels)",
            "look-alike group", "or a mixture with the same key elements",
            "layer (of its pixels)")  # fmt: skip
    out = ["<table border='1' cellpadding='4' style='border-collapse:collapse'><tr>"]
    out += [f"<th>{html.escape(h)}</th>" for h in head] + ["</tr>"]
    for r in rows:
        uns = "n/a" if r["unsupported_percent"] is None else f"{r['unsupported_percent']:.1f}"
        below = (
            "n/a" if r["below_detection_percent"] is None else f"{r['below_detection_percent']:.1f}"
        )
        cells = (r["pigment"], f"{r['area_percent']:.1f}", f"{r['mean_probability']:.2f}",
                 r["key_elements"], uns, below, r["group"] or "-", r.get("or_mixture") or "-",
                 r["layer"] or "-")  # fmt: skip
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return "".join(out) + "</table>"


def _reliability_figure(rel: dict[str, dict[str, list[float]]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4), dpi=90)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, label="perfect")
    for (label, r), colour in zip(rel.items(), ("#D55E00", "#0072B2"), strict=False):
        ax.plot(r["probability"], r["frequency"], "o-", color=colour, label=label)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png_b64(fig)


def _layer_figure(res: dict[str, Any], names: list[str], *, bar: ScaleBar | None = None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from pigmentmap.evaluate.layers import layer_calls

    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), dpi=90, squeeze=False)
    cmap = ListedColormap(["#DDDDDD", *LAYER_COLOURS])
    min_conf = layer_threshold(res)
    for ax, name in zip(axes[0], names, strict=True):
        k = res["names"].index(name)
        calls = layer_calls(res["layers"][..., k, :], min_confidence=min_conf)
        image = np.where(res["prob"][..., k] >= 0.5, calls + 1, 0)
        ax.imshow(image, cmap=cmap, vmin=0, vmax=4, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        draw_scale_bar(ax, bar, image_height_px=image.shape[0])
    handles = [Patch(color=c, label=lbl) for c, lbl in zip(["#DDDDDD", *LAYER_COLOURS],
               ["not claimed", "top layer", "underneath", "both", "uncertain"], strict=True)]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _png_b64(fig)


def _group_figure(
    res: dict[str, Any], groups: list[dict[str, Any]], *, bar: ScaleBar | None = None
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(groups), figsize=(3.4 * len(groups), 3.4), dpi=90, squeeze=False
    )
    for ax, g in zip(axes[0], groups, strict=True):
        name = " | ".join(g["members"])
        im = ax.imshow(res["groups"][..., res["group_names"].index(name)], cmap="cividis",
                       vmin=0, vmax=1, interpolation="nearest")  # fmt: skip
        ax.set_title("\n".join(g["members"]), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        draw_scale_bar(ax, bar, image_height_px=res["groups"].shape[0])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="probability")
    fig.tight_layout()
    return _png_b64(fig)


def _sum_spectrum_figure(spec: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(13, 4), dpi=90)
    e = spec["energy_kev"]
    ax.semilogy(e, np.maximum(spec["counts"], 0.5), color="black", lw=1, label="measured (sum)")
    colours = (
        "#E69F00",
        "#56B4E9",
        "#009E73",
        "#F0E442",
        "#0072B2",
        "#D55E00",
        "#CC79A7",
        "#999999",
    )
    for name, comp, colour in zip(spec["names"], spec["components"], colours, strict=False):
        shown = np.where(comp > 1e-3 * max(float(comp.max()), 1e-12), comp, np.nan)  # gaps break
        ax.semilogy(e, shown, lw=1.2, color=colour, label=name)
    ax.set_xlabel("energy (keV)")
    ax.set_ylabel("counts per channel")
    ax.set_ylim(0.5, max(2.0, float(spec["counts"].max()) * 2))
    ax.set_xlim(max(0.5, float(e[0])), float(e[-1]))
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    return _png_b64(fig)


def _element_gallery(res: dict[str, Any], *, columns: int = 6, bar: ScaleBar | None = None) -> str:
    """All element maps in a grid, the most often detected first, each with a colour bar (and
    ``bar``); a flagged map (lines under tube lines or scatter) says so in its title, in
    vermilion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(res["element_names"])
    flags = res.get("element_flags") or {}
    sig = res.get("significance")
    share = [
        float((sig[..., k] >= 3).mean()) if sig is not None else 0.0 for k in range(len(names))
    ]
    order = sorted(range(len(names)), key=lambda k: -share[k])
    rows = (len(order) + columns - 1) // columns
    h, w = res["elements"].shape[:2]
    size = 2.3
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size * max(0.4, h / max(w, 1)) + 0.4),
                             dpi=80, squeeze=False)  # fmt: skip
    for ax in axes.ravel():
        ax.axis("off")
    for ax, k in zip(axes.ravel(), order, strict=False):
        image = res["elements"][..., k]
        top = float(np.percentile(image, 99)) or 1.0
        im = ax.imshow(image, cmap="cividis", vmin=0, vmax=top, interpolation="nearest")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=6)
        flagged = names[k] in flags
        ax.set_title(f"{names[k]}: {100 * share[k]:.0f} % detected{'; FLAGGED' if flagged else ''}",
                     fontsize=8, color="#D55E00" if flagged else "black")  # fmt: skip
        draw_scale_bar(ax, bar, image_height_px=h)
    fig.tight_layout()
    return _png_b64(fig)


def _bar_alt(bar: ScaleBar | None) -> str:
    """What an image's alt text adds for its scale bar."""
    return f" (scale bar {html.escape(bar.label)})" if bar is not None else ""


def _flag_list(flags: dict[str, str]) -> str:
    """The flagged element maps and why, as an HTML paragraph and list ("" when none)."""
    if not flags:
        return ""
    return (
        "<p class='flags'><b>Flagged element maps</b> (marked FLAGGED above): their lines "
        "coincide with a tube line or its scatter, so their counts hold scatter too; trust them "
        "only where the element is detected well above it.</p><ul class='flags'>"
        + "".join(
            f"<li><b>{html.escape(el)}</b>: {html.escape(why)}</li>" for el, why in flags.items()
        )
        + "</ul>"
    )


def _honesty_sections(
    res: dict[str, Any], card: dict[str, Any], *, bar: ScaleBar | None = None
) -> list[str]:
    """Summary table, notes (the report's own, then every other notice of the map run, in
    order), look-alike groups, calibration and layers."""
    from pigmentmap.mapping.evidence import gate_summary_text

    attrs = res["attrs"]
    parts = ["<h2>Summary</h2>"]
    rows = summary_rows(res)
    parts.append(_table(rows) if rows else "<p>No pigment is claimed (p >= 0.5) anywhere.</p>")
    if any(r.get("or_mixture") for r in rows):
        parts.append(
            "<p>A claimed pigment with two key elements could equally be a mixture of two others "
            "that hold them together (column <i>or a mixture with the same key elements</i>): "
            "XRF sees elements, not compounds. On the mock-up phantom, every false claim of such "
            "a pigment by the default model was one of these mixtures.</p>"
        )
    absent = not_found(res)
    if absent:
        parts.append(
            "<p><b>Not claimed anywhere</b> (which does not mean absent: a pigment whose key "
            "element is not detected may be below detection):</p><ul>"
            + "".join(f"<li>{html.escape(line)}</li>" for line in absent)
            + "</ul>"
        )
    notes = []
    lacks = list(attrs.get("model_lacks", []))
    if lacks:
        notes.append(f"The model has no {', no '.join(lacks)}: it was made before them "
                     "(pigmentmap calibrate, pigmentmap train-layers add them).")  # fmt: skip
    ev = res.get("evidence", {})
    if ev:
        notes.append(gate_summary_text(ev))
    reported = merge_notes(notes, run_notes(attrs),
                           covered_prefixes=("the model has no",) if lacks else ())  # fmt: skip
    if notes or reported:
        parts.append("<h2>Notes</h2>")
    if notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    if reported:
        parts.append(
            "<p>What the map run reported (in order):</p><ul class='run-notes'>"
            + "".join(f"<li>{html.escape(n)}</li>" for n in reported)
            + "</ul>"
        )
    parts += _unaccounted_section(res, bar=bar)
    parts += limits_section(res)
    groups = [g for g in res.get("group_list", []) if len(g["members"]) > 1]
    if groups and "groups" in res:
        parts.append(
            "<h2>Look-alike groups</h2><p>Pigments XRF cannot tell apart under these conditions "
            "(pigments with the same key elements, and those the model confuses on held-out "
            "simulation among pigments sharing one). The group probability (at least one member "
            "present) is reliable; the split within a group is uncertain.</p><ul>"
            + "".join(
                f"<li><b>{html.escape(' | '.join(g['members']))}</b>: {html.escape(g['why'])}</li>"
                for g in groups
            )
            + "</ul>"
            + f"<img alt='look-alike groups{_bar_alt(bar)}' src='data:image/png;base64,{_group_figure(res, groups, bar=bar)}'>"
        )
    rel = (card.get("calibration") or {}).get("metrics", {}).get("reliability")
    if rel:
        m = card["calibration"]["metrics"]
        parts.append(
            "<h2>Calibration</h2><p>Probabilities are calibrated (per-pigment Platt scaling fitted "
            f"on held-out simulation): expected calibration error {m['ece_raw']:.3f} before, "
            f"{m['ece']:.3f} after; over claims (p >= 0.1) {m['ece_claims_raw']:.3f} before, "
            f"{m['ece_claims']:.3f} after. A probability means what it says on simulated "
            "paintings; on a real scan it is as good as the simulation of that scanner.</p>"
            f"<img alt='reliability' src='data:image/png;base64,{_reliability_figure(rel)}'>"
        )
    if "layers" in res and rows:
        shown = [r["pigment"] for r in rows if r["area_percent"] > 0][:6]
        if shown:
            from pigmentmap.evaluate.layers import describe_sure

            test = (card.get("layers") or {}).get("metrics", {}).get("test", {})
            la = test.get("layer_accuracy")
            acc = f" (right for {la:.0%} of present pigments on held-out simulation)" if la else ""
            sure = (
                f" On held-out simulation, {describe_sure(test.get('sure'))}: XRF cannot place "
                "a pigment under a thin or light cover, nor tell a dilute pigment on top from a "
                "richer one underneath, where the line ratios do not differ beyond the noise."
            )
            parts.append(
                "<h2>Layers</h2><p>Where each pigment is claimed: in the top layer, underneath "
                f"(grounds and primings count as underneath) or in both{acc}.{sure}</p>"
                f"<img alt='layers{_bar_alt(bar)}' src='data:image/png;base64,{_layer_figure(res, shown, bar=bar)}'>"
            )
    return parts


def unaccounted_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Per element flagged anywhere (:mod:`pigmentmap.mapping.unaccounted`): its share of
    pixels and each candidate's mean probability there, most flagged first.

    Examples
    --------
    >>> import numpy as np
    >>> res = {"names": ("lead_white", "red_lead"), "prob": np.array([[[0.3, 0.1], [0.9, 0.0]]]),
    ...        "unaccounted": {"elements": ("Pb",), "flags": np.array([[[True], [False]]]),
    ...                        "candidates": {"Pb": ["lead_white", "red_lead"]}}}
    >>> unaccounted_rows(res)
    [{'element': 'Pb', 'percent': 50.0, 'candidates': [('lead_white', 0.3), ('red_lead', 0.1)]}]
    """
    u = res.get("unaccounted")
    if not u:
        return []
    out = []
    for j, e in enumerate(u["elements"]):
        flag = u["flags"][..., j]
        if not flag.any():
            continue
        cands = [
            (c, round(float(res["prob"][..., res["names"].index(c)][flag].mean()), 3))
            for c in u["candidates"].get(e, [])
            if c in res["names"]
        ]
        cands.sort(key=lambda t: -t[1])
        out.append({"element": e, "percent": round(100.0 * float(flag.mean()), 1),
                    "candidates": cands})  # fmt: skip
    out.sort(key=lambda r: -r["percent"])
    return out


def _unaccounted_figure(
    res: dict[str, Any], elements: list[str], *, bar: ScaleBar | None = None
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    u = res["unaccounted"]
    fig, axes = plt.subplots(
        1, len(elements), figsize=(3.2 * len(elements), 3.4), dpi=90, squeeze=False
    )
    for ax, e in zip(axes[0], elements, strict=True):
        counts = res["elements"][..., res["element_names"].index(e)]
        grey = scaled(counts)
        flag = u["flags"][..., u["elements"].index(e)]
        rgb = np.stack([grey] * 3, axis=-1) * 0.6
        rgb[flag] = (1.0, 0.45, 0.0)
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(f"{e}: unaccounted (orange)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        draw_scale_bar(ax, bar, image_height_px=rgb.shape[0])
    fig.tight_layout()
    return _png_b64(fig)


def _unaccounted_section(res: dict[str, Any], *, bar: ScaleBar | None = None) -> list[str]:
    """Where an element is detected and no pigment holding it is claimed."""
    rows = unaccounted_rows(res)
    if not rows:
        return []
    u = res["unaccounted"]
    items = "".join(
        f"<li><b>{html.escape(r['element'])}</b> on {r['percent']:.1f} % of pixels; could be "
        + ", ".join(f"{html.escape(c)} (mean p {p:.2f} there)" for c, p in r["candidates"])
        + "</li>"
        for r in rows
    )
    shown = [r["element"] for r in rows][:6]
    return [
        "<h2>Elements no claimed pigment accounts for</h2><p>Where an element is detected at "
        f"{float(u.get('sigma', 10)):g} sigma or more (and well above what a strong neighbouring "
        "line could lend it) and no pigment holding it is claimed: the model has missed a "
        "pigment there, or the element comes from something it does not know (a ground, an "
        "impurity, a pigment outside its palette). These pixels are not evidence of absence; "
        "look at them with other means.</p><ul>" + items + "</ul>",
        f"<img alt='unaccounted elements{_bar_alt(bar)}' src='data:image/png;base64,"
        f"{_unaccounted_figure(res, shown, bar=bar)}'>",
    ]


def limits_section(res: dict[str, Any]) -> list[str]:
    """What the scan can see (:mod:`pigmentmap.mapping.limits`): a table of the least mass
    fraction of each pigment whose own lines reach 5 sigma, bare and under each cover; nothing
    for results written before it was stored."""
    from pigmentmap.mapping.limits import DetectionLimits

    data = res.get("limits")
    if not data:
        return []
    lim = DetectionLimits.from_dict(data)
    if not lim.names:
        return []
    with_map = lim.map_fraction is not None
    head = "".join(
        f"<th>{html.escape(c)}: its lines</th><th>{html.escape(c)}: the map</th>"
        if with_map
        else f"<th>{html.escape(c)}</th>"
        for c in lim.covers
    )
    body = "".join(
        f"<tr><td>{html.escape(n)}</td>"
        + "".join(
            f"<td>{html.escape(lim.describe(n, c))}</td>"
            + (f"<td>{html.escape(lim.describe_map(n, c))}</td>" if with_map else "")
            for c in lim.covers
        )
        + "</tr>"
        for n in lim.names
    )
    map_text = (
        " 'the map': the least share at which this map's model claims the pigment, or its "
        f"look-alike group (mean probability {float(data.get('map_claim', 0.5)):g} or more over "
        f"{int(data.get('map_draws', 8))} noise draws of the same paint, before the evidence "
        "gate); 'not found': not even pure, or not told apart from the cover. The map's limit, "
        "not the lines', says what an empty map means."
        if with_map
        else ""
    )
    return [
        "<h2>What this scan can see</h2><p>The least share of each pigment (by mass, in a "
        f"{float(data.get('layer_um', 50)):g} um paint layer mixed with chalk over a chalk "
        "ground) whose own lines stand "
        f"{float(data.get('sigma', 5)):g} sigma above the noise, simulated for this scan's "
        f"instrument at its mean {lim.counts_per_pixel:,.0f} counts per pixel: bare, and under "
        "a cover. Less than this, or under a thicker or more absorbing cover, and a pigment can "
        "be there with no map showing it: where a map is empty, read this table before "
        f"concluding that a pigment is absent. 'not seen': not even the pure pigment.{map_text}"
        f"</p><table><tr><th>pigment</th>{head}</tr>{body}</table>"
    ]


def not_found(res: dict[str, Any]) -> list[str]:
    """For each class claimed nowhere, what the element evidence says about it.

    ``"vermilion: Hg detected at 3 sigma in 0.0 % of pixels: below detection wherever it may
    be"`` or ``"... in 12.0 % of pixels, yet not claimed there"``.
    """
    ev = res.get("evidence", {})
    keys = ev.get("key_elements", {})
    sigma = ev.get("detected_sigma", 3.0)
    sig = res.get("significance")
    lines = []
    for k, name in enumerate(res["names"]):
        if (res["prob"][..., k] >= 0.5).any():
            continue
        els = keys.get(name, [])
        if not els or sig is None:
            lines.append(f"{name}: no key element XRF can check")
            continue
        idx = [res["element_names"].index(e) for e in els if e in res["element_names"]]
        detected = np.all([sig[..., i] >= sigma for i in idx], axis=0)
        share = 100.0 * float(detected.mean())
        where = (
            "below detection wherever it may be"
            if share == 0
            else "yet not claimed there (another pigment with them, or too little to tell)"
        )
        lines.append(
            f"{name}: {'/'.join(els)} detected at {sigma:g} sigma in {share:.1f} % of pixels: {where}"
        )
    return lines


def write_report(folder: str | Path, *, out: str | Path | None = None) -> Path:
    """Write ``folder/report.html`` (or ``out``): one self-contained page; returns its path.

    Sections: the run's parameters (with the pixel size, or "pixel size unknown: no scale
    bar"); what the model was trained on and what its held-out figures mean
    (:func:`pigmentmap.report.notes.model_note`); ground-truth metrics (phantoms); summary; notes
    (the report's own, then every other notice the map run stored in the ``notes`` attribute, in
    order); elements no claimed pigment accounts for; what the scan can see (detection limits);
    look-alike groups; calibration; layers;
    sum spectrum; element maps (flagged maps
    marked, with why); each pigment against its key elements. Every map panel has a scale bar
    when ``pixel_size_mm`` is known (:func:`pigmentmap.report.scale.scale_bar`).

    Parameters
    ----------
    folder : path
        A ``pigmentmap map`` results folder (holding ``maps.h5``).
    out : path, keyword-only
        Where to write the page (default ``folder/report.html``).

    Returns
    -------
    Path
        The page written.

    Examples
    --------
    >>> write_report("results/", out="report.html")  # doctest: +SKIP
    PosixPath('report.html')
    """
    res = load_results(folder)
    target = Path(out) if out else Path(folder) / "report.html"
    available = res["element_names"]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>pigmentmap report</title>",
             "<style>body{font-family:sans-serif;max-width:1400px;margin:auto;padding:0 12px}img{width:100%;height:auto}table{font-size:14px}"
             "pre{background:#f4f4f4;padding:8px;white-space:pre-wrap}p,li{max-width:120ch;line-height:1.4}"
             ".flags{color:#8A3300}</style></head><body>",
             f"<h1>Pigment maps of {html.escape(str(res['attrs'].get('source', '')))}</h1>"]  # fmt: skip
    attrs = res["attrs"]
    card = res.get("model_card", {})
    bar = scale_bar(res["prob"].shape[1], map_pixel_size(attrs))
    flags = dict(res.get("element_flags") or {})
    params = {
        "model": attrs.get("model"),
        "architecture": card.get("architecture"),
        "model data": card.get("data", {}).get("design"),
        "binning": attrs.get("binning"),
        "source SHA-256": attrs.get("source_sha256"),
        "calibration": res.get("axis"),
        "pixels": f"{res['prob'].shape[0]} x {res['prob'].shape[1]}",
        "pixel size": pixel_size_text(attrs, bar),
    }
    parts.append(
        "<h2>Run</h2><pre>"
        + html.escape("\n".join(f"{k}: {v}" for k, v in params.items()))
        + "</pre>"
    )
    parts.append(
        "<h2>The model</h2><p class='model-note'>" + html.escape(model_note(card)) + "</p>"
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
    parts += _honesty_sections(res, card, bar=bar)
    if "sum_spectrum" in res:
        parts.append(
            "<h2>Sum spectrum</h2><p>All pixels summed, with the fitted principal line family "
            "of the strongest elements (the fit's background, tube and scatter lines are not "
            "drawn).</p>"
            f"<img alt='sum spectrum' src='data:image/png;base64,{_sum_spectrum_figure(res['sum_spectrum'])}'>"
        )
    if len(available):
        parts.append(
            "<h2>Element maps</h2><p>Every fitted element (counts of its principal line family; "
            "each scaled to its 99th percentile), in order of the share of pixels where it is "
            "detected at 3 sigma.</p>"
            f"<img alt='element maps{_bar_alt(bar)}' src='data:image/png;base64,{_element_gallery(res, bar=bar)}'>"
            + _flag_list(flags)
        )
    parts.append("<h2>Pigments and their elements</h2>")
    for k, name in enumerate(res["names"]):
        els = key_elements(name, available)
        emaps = {e: res["elements"][..., available.index(e)] for e in els}
        figure = _figure(res["prob"][..., k], emaps, name, bar=bar, flagged=tuple(flags))
        parts.append(f"<h3>{html.escape(name)}</h3>")
        parts += [
            f"<p class='flags'>The {html.escape(e)} map is flagged: {html.escape(flags[e])}</p>"
            for e in els
            if e in flags
        ]
        parts.append(
            f"<img alt='{html.escape(name)}{_bar_alt(bar)}' src='data:image/png;base64,{figure}'>"
        )
    parts.append("</body></html>")
    with atomic_path(target) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    if target.parent.resolve() == Path(folder).resolve():
        record_written(folder, target.name)  # a later map --overwrite may replace it
    return target
