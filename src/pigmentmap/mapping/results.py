"""The results file ``maps.h5``, as NeXus: what silx view, PyMca's RGB correlator and NeXpy open.

Layout (every image stack has the map index first, then rows ``y`` and columns ``x``)::

    /                        attrs NX_class=NXroot, default=entry
    /entry                   NXentry; attrs default=pigments, program, version, source,
                             source_sha256, model, binning, model_lacks, notes (every
                             notice of the run), pixel_size_mm (of a scan pixel, "None"
                             when unknown; a map pixel is binning times larger)
      pigments/              NXdata  signal probability (K, H, W): calibrated, evidence-gated
                                     probability_network (K, H, W): the network's own output
                                     names (K), y, x (pixel index)
      elements/              NXdata  signal counts (E, H, W); names; flag_<El> attributes
      significance/          NXdata  signal significance (E, H, W): counts / Poisson sigma
      evidence/              NXdata  signal support (K, H, W) int8: 1 key elements detected,
                                     0 a key element not detected, -1 cannot be checked;
                                     missing (K, H, W); key_elements/ (attrs per pigment);
                                     alternatives/ (attrs: the mixtures of two other classes
                                     with a pigment's key elements, in words)
      groups/                NXdata  signal probability (G, H, W); names; members/ and why/
      layers/                NXdata  signal probability (2K, H, W): p(top layer), p(lower
                                     layer) for each class; names "<pigment> top|under"
      unaccounted/           NXdata  signal flags (U, H, W) int8: 1 where the element is
                                     detected and no pigment holding it is claimed
                                     (:mod:`pigmentmap.mapping.unaccounted`); names (U);
                                     candidates/ (attrs per element), sigma
      limits/                what the scan can see (:mod:`pigmentmap.mapping.limits`): covers,
                             counts_per_pixel, sigma, layer_um; fraction/ (attrs per class:
                             least mass fraction seen per cover, NaN: not seen);
                             map_fraction/ (the same for the map's model: least fraction
                             at which it claims the pigment's group, NaN: not found),
                             map_claim, map_draws
      sum_spectrum/          NXdata  signal counts (C): the sum of all pixels; axis energy
                                     (keV); component_<El>: each strong element's fitted
                                     principal line family
      model_card/            NXcollection: the model card, nested groups and attributes
      instrument/            NXcollection: the profile the element fit used
      calibration/           NXcollection: the scan's energy axis
      truth/                 (phantoms) pigment_maps (H, W, K), names, layers, detectable, strips

Metadata are attributes (nested dictionaries are groups); only lists of records (the card's
per-epoch history) are kept as JSON text. :func:`read_results` gives the arrays back as
(H, W, ...) arrays for the report and the benchmarks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pigmentmap.core.errors import PigmentmapError

RESULTS = "maps.h5"
_STR = h5py.string_dtype()


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _put(group: h5py.Group, key: str, value: Any) -> None:
    """One metadata entry: a scalar, string or flat list as an attribute; a dict as a subgroup;
    anything else as JSON text."""
    if isinstance(value, dict):
        sub = group.create_group(key)
        for k, v in value.items():
            _put(sub, str(k), v)
    elif value is None:
        group.attrs[key] = "None"
    elif isinstance(value, bool | int | float | str | np.integer | np.floating):
        group.attrs[key] = value
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        group.attrs[key] = np.array(list(value), dtype=_STR)
    elif isinstance(value, list | tuple) and all(isinstance(v, bool | int | float) for v in value):
        group.attrs[key] = np.array(value, dtype=float) if value else np.zeros(0)
    else:
        group.attrs[f"{key}_json"] = json.dumps(value)


def _get(group: h5py.Group) -> dict[str, Any]:
    """Read back :func:`_put`."""
    out: dict[str, Any] = {}
    for k, v in group.attrs.items():
        if k == "NX_class":
            continue
        if k.endswith("_json"):
            out[k[: -len("_json")]] = json.loads(_text(v))
        elif isinstance(v, np.ndarray):
            out[k] = [_text(x) if isinstance(x, bytes | str) else x.item() for x in v]
        elif isinstance(v, bytes | str):
            out[k] = None if _text(v) == "None" else _text(v)
        else:
            out[k] = v.item() if hasattr(v, "item") else v
    for k, sub in group.items():
        if isinstance(sub, h5py.Group):
            out[k] = _get(sub)
    return out


def _stack(image: np.ndarray) -> np.ndarray:
    """(H, W, K) -> (K, H, W), contiguous."""
    return np.ascontiguousarray(np.moveaxis(image, -1, 0))


def _layer_stack(layers: np.ndarray) -> np.ndarray:
    """(h, w, K, 2) -> (2K, h, w): every class's p(top), then every class's p(under)."""
    h, w, k, _ = layers.shape
    return np.ascontiguousarray(np.moveaxis(layers, (2, 3), (1, 0)).reshape(2 * k, h, w))


def _nxdata(
    entry: h5py.Group,
    name: str,
    signal: str,
    shape: tuple[int, int, int],
    dtype: Any,
    names: list[str] | tuple[str, ...],
    *,
    long_name: str,
    units: str = "",
    chunk_rows: int,
) -> h5py.Group:
    """An NXdata group whose empty signal (K, H, W) is filled row block by row block."""
    g = entry.create_group(name)
    g.attrs["NX_class"] = "NXdata"
    g.attrs["signal"] = signal
    g.attrs["axes"] = np.array([".", "y", "x"], dtype=_STR)
    g.attrs["title"] = long_name
    ds = _image_stack(g, signal, shape, dtype, chunk_rows=chunk_rows)
    ds.attrs["long_name"] = long_name
    ds.attrs["interpretation"] = "image"  # a stack of images, one per pigment / element
    if units:
        ds.attrs["units"] = units
    g["names"] = np.array(list(names), dtype=_STR)
    for axis, n in (("y", shape[1]), ("x", shape[2])):
        g[axis] = np.arange(n, dtype=np.int32)
        g[axis].attrs["units"] = "pixel"
        g[axis].attrs["long_name"] = f"{axis} (pixel)"
    return g


def _image_stack(
    g: h5py.Group, name: str, shape: tuple[int, int, int], dtype: Any, *, chunk_rows: int
) -> h5py.Dataset:
    """An empty compressed (K, H, W) dataset in chunks of one image's ``chunk_rows`` rows."""
    k, h, w = shape
    chunks = (1, max(1, min(h, chunk_rows)), max(1, w)) if k and h and w else None
    return g.create_dataset(name, shape=shape, dtype=dtype, chunks=chunks,
                            compression="gzip" if chunks else None)  # fmt: skip


class ResultsWriter:
    """``maps.h5`` written row block by row block (whatever the map's size, memory holds one
    block): :meth:`write_rows` for each block, then :meth:`finish` with the metadata.

    Parameters
    ----------
    path : path
        The file to create.
    shape : (H, W)
        The map's size.
    names, element_names, group_names : the classes, the fitted elements, the groups
    layers : bool
        Whether there is a layer stack.
    chunk_rows : int
        Rows per stored chunk (best: the rows of a block).
    element_units : str
    unaccounted : the elements whose unaccounted-for flags are stored (none: no such maps)

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "maps.h5"
    >>> w = ResultsWriter(path, shape=(2, 3), names=("lead_white",), element_names=("Pb",),
    ...                   group_names=("lead_white",), layers=False, chunk_rows=1)
    >>> for r in (0, 1):
    ...     w.write_rows(r, {"prob": np.full((1, 3, 1), 0.5 * r)})
    >>> w.close()
    >>> with h5py.File(path) as f:
    ...     f["entry/pigments/probability"][0].tolist()
    [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]
    """

    def __init__(
        self,
        path: str | Path,
        *,
        shape: tuple[int, int],
        names: tuple[str, ...] | list[str],
        element_names: tuple[str, ...] | list[str],
        group_names: tuple[str, ...] | list[str],
        layers: bool,
        chunk_rows: int = 64,
        element_units: str = "counts",
        unaccounted: tuple[str, ...] | list[str] = (),
    ) -> None:
        from pigmentmap import __version__

        h, w = shape
        self.path = Path(path)
        self.f = h5py.File(path, "w")
        f = self.f
        f.attrs["NX_class"] = "NXroot"
        f.attrs["default"] = "entry"
        self.entry = entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry.attrs["default"] = "pigments"
        entry.attrs["program"] = "pigmentmap"
        entry.attrs["version"] = __version__
        k, e, n_groups = len(names), len(element_names), len(group_names)
        rows = chunk_rows
        pig = _nxdata(entry, "pigments", "probability", (k, h, w), np.float32, list(names),
                      long_name="pigment probability (calibrated, evidence-gated)", chunk_rows=rows)  # fmt: skip
        _image_stack(pig, "probability_network", (k, h, w), np.float32, chunk_rows=rows)
        pig.attrs["auxiliary_signals"] = np.array(["probability_network"], dtype=_STR)
        _nxdata(entry, "elements", "counts", (e, h, w), np.float32, list(element_names),
                long_name="element map", units=element_units, chunk_rows=rows)  # fmt: skip
        _nxdata(entry, "significance", "significance", (e, h, w), np.float32,
                list(element_names), long_name="element significance (sigma)", chunk_rows=rows)  # fmt: skip
        ev = _nxdata(entry, "evidence", "support", (k, h, w), np.int8, list(names),
                     long_name="key elements detected (1), not (0), cannot check (-1)", chunk_rows=rows)  # fmt: skip
        _image_stack(ev, "missing", (k, h, w), np.int8, chunk_rows=rows)
        _nxdata(entry, "groups", "probability", (n_groups, h, w), np.float32, list(group_names),
                long_name="look-alike group probability", chunk_rows=rows)  # fmt: skip
        if layers:
            lay_names = [f"{n} {side}" for side in ("top", "under") for n in names]
            _nxdata(entry, "layers", "probability", (2 * k, h, w), np.float32, lay_names,
                    long_name="p(in the top layer), p(in a lower layer)", chunk_rows=rows)  # fmt: skip
        self._targets = {
            "prob": entry["pigments/probability"], "raw": entry["pigments/probability_network"],
            "elements": entry["elements/counts"], "significance": entry["significance/significance"],
            "support": entry["evidence/support"], "missing": entry["evidence/missing"],
            "groups": entry["groups/probability"],
        }  # fmt: skip
        if layers:
            self._targets["layers"] = entry["layers/probability"]
        if len(unaccounted):
            _nxdata(entry, "unaccounted", "flags", (len(unaccounted), h, w), np.int8,
                    list(unaccounted), long_name="detected, no pigment holding it claimed",
                    chunk_rows=rows)  # fmt: skip
            self._targets["unaccounted_flags"] = entry["unaccounted/flags"]

    def write_rows(self, r0: int, parts: dict[str, Any]) -> None:
        """Rows ``r0:r0 + h`` of every map in ``parts`` ((h, W, ...) arrays, keys as in
        :func:`write_results`; ``layers`` (h, W, K, 2))."""
        for key, ds in self._targets.items():
            value = parts.get(key)
            if value is None:
                continue
            stack = (
                _layer_stack(np.asarray(value)) if key == "layers" else _stack(np.asarray(value))
            )
            ds[:, r0 : r0 + stack.shape[1], :] = stack

    def finish(self, parts: dict[str, Any]) -> Path:
        """Write the metadata (keys as in :func:`write_results`) and close the file."""
        entry = self.entry
        for key in ("source", "source_sha256", "model"):
            entry.attrs[key] = str(parts[key])
        entry.attrs["binning"] = int(parts["binning"])
        entry.attrs["model_lacks"] = np.array(list(parts["model_lacks"]), dtype=_STR)
        entry.attrs["notes"] = np.array([str(n) for n in parts.get("notes", ())], dtype=_STR)
        size = parts.get("pixel_size_mm")
        entry.attrs["pixel_size_mm"] = "None" if size is None else float(size)
        for element, why in parts["element_flags"].items():
            entry["elements"].attrs[f"flag_{element}"] = why
        ev = entry["evidence"]
        rule = dict(parts["evidence"])
        _put(ev, "key_elements", rule.pop("key_elements", {}))
        _put(ev, "unmeasured", rule.pop("unmeasured", {}))
        if "alternatives" in rule:
            _put(ev, "alternatives", rule.pop("alternatives"))
        rule.pop("codes", None)
        for k, v in rule.items():
            ev.attrs[k] = v
        if "unaccounted" in entry and parts.get("unaccounted"):
            rule = dict(parts["unaccounted"])
            rule.pop("flags", None)
            rule.pop("elements", None)
            _put(entry["unaccounted"], "candidates", rule.pop("candidates", {}))
            for k, v in rule.items():
                entry["unaccounted"].attrs[k] = v
        if parts.get("limits"):
            _put(entry, "limits", parts["limits"])
        members = entry["groups"].create_group("members")
        why = entry["groups"].create_group("why")
        for g in parts["group_list"]:
            members.attrs[" | ".join(g["members"])] = np.array(g["members"], dtype=_STR)
            why.attrs[" | ".join(g["members"])] = g.get("why", "")
        for key, value in (("model_card", parts["model_card"]), ("instrument", parts["instrument"]),
                           ("calibration", parts["axis"])):  # fmt: skip
            _put(entry, key, value)
            entry[key].attrs["NX_class"] = "NXcollection"
        spec = parts.get("sum_spectrum")
        if spec is not None:
            g = entry.create_group("sum_spectrum")
            g.attrs["NX_class"] = "NXdata"
            g.attrs["signal"] = "counts"
            g.attrs["axes"] = "energy"
            g.attrs["auxiliary_signals"] = np.array(
                [f"component_{n}" for n in spec["names"]], dtype=_STR
            )
            g["counts"] = np.asarray(spec["counts"], dtype=np.float64)
            g["counts"].attrs["long_name"] = "sum of all pixels (counts)"
            g["energy"] = np.asarray(spec["energy_kev"], dtype=np.float64)
            g["energy"].attrs["units"] = "keV"
            for n, comp in zip(spec["names"], spec["components"], strict=True):
                g[f"component_{n}"] = comp
                g[f"component_{n}"].attrs["long_name"] = f"{n}: fitted principal line family"
        truth = parts.get("truth")
        if truth is not None:
            t = entry.create_group("truth")
            t.attrs["NX_class"] = "NXcollection"
            t["pigment_maps"] = truth["pigment_maps"]
            t["names"] = np.array(truth["names"], dtype=_STR)
            for key in ("layers", "detectable", "top_strip", "bottom_strip"):
                if key in truth:
                    t[key] = truth[key]
        self.close()
        return self.path

    def close(self) -> None:
        """Close the file (:meth:`finish` does)."""
        if self.f.id.valid:
            self.f.close()


def write_results(path: str | Path, parts: dict[str, Any]) -> Path:
    """Write ``maps.h5`` in the NeXus layout of the module notes, all at once.

    ``parts`` holds arrays in (H, W, ...) order: ``prob``, ``raw``, ``names``, ``elements``,
    ``element_names``, ``significance``, ``element_flags``, ``element_units``, ``support``,
    ``missing``, ``evidence`` (the rule), ``groups``, ``group_list`` (dicts with members and
    why), ``layers`` (or None), and metadata ``model_card``, ``model``, ``source``,
    ``source_sha256``, ``binning``, ``instrument``, ``axis``, ``model_lacks``, ``truth`` (or
    None), ``notes`` (the run's notices) and ``pixel_size_mm`` (or None), both optional;
    ``unaccounted`` (optional): ``flags`` (H, W, U), ``elements`` (U), ``candidates`` and the
    rule's values.
    """
    h, w = np.shape(parts["prob"])[:2]
    loose = parts.get("unaccounted") or {}
    writer = ResultsWriter(
        path, shape=(h, w), names=parts["names"], element_names=parts["element_names"],
        group_names=[" | ".join(g["members"]) for g in parts["group_list"]],
        layers=parts.get("layers") is not None, element_units=parts["element_units"],
        unaccounted=tuple(loose.get("elements", ())),
    )  # fmt: skip
    try:
        rows = dict(parts)
        if loose:
            rows["unaccounted_flags"] = np.asarray(loose["flags"]).astype(np.int8)
        writer.write_rows(0, rows)
        return writer.finish(parts)
    finally:
        writer.close()


def _names(ds: Any) -> tuple[str, ...]:
    return tuple(_text(x) for x in ds[()])


def read_results(folder: str | Path) -> dict[str, Any]:
    """The arrays and metadata of ``folder/maps.h5`` (or of that file), maps as (H, W, ...).

    Keys: ``prob``, ``raw``, ``names``, ``elements``, ``element_names``, ``significance``,
    ``support``, ``missing``, ``groups``, ``group_names``, ``group_list``, ``layers`` (or
    absent), ``unaccounted`` (flags (H, W, U), ``elements``, ``candidates`` and the rule's
    values; absent from files of earlier versions), ``limits`` (what the scan can see,
    :meth:`~pigmentmap.mapping.limits.DetectionLimits.to_dict`; absent from earlier files),
    ``evidence`` (the rule), ``element_flags``,
    ``model_card``, ``attrs`` (the entry's attributes), and ``truth``, ``truth_names``,
    ``truth_layers``, ``strips`` for phantoms.
    """
    p = Path(folder)
    path = p / RESULTS if p.is_dir() else p
    if not path.is_file():
        raise PigmentmapError(f"'{folder}' holds no {RESULTS} (run pigmentmap map first)")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise PigmentmapError(f"'{path}' is not an HDF5 file") from None
    with f:
        if "entry/pigments" not in f:
            raise PigmentmapError(
                f"'{path}' is not a pigmentmap results file of this version (rerun pigmentmap map)"
            )
        e = f["entry"]

        def maps(group: str, key: str) -> np.ndarray:
            return np.moveaxis(e[group][key][()], 0, -1)

        out: dict[str, Any] = {
            "prob": maps("pigments", "probability"),
            "raw": maps("pigments", "probability_network"),
            "names": _names(e["pigments/names"]),
            "elements": maps("elements", "counts"),
            "element_names": _names(e["elements/names"]),
            "significance": maps("significance", "significance"),
            "support": maps("evidence", "support"),
            "missing": maps("evidence", "missing"),
            "groups": maps("groups", "probability"),
            "group_names": _names(e["groups/names"]),
            "attrs": _get(e),
        }
        out["element_flags"] = {
            k[len("flag_") :]: _text(v)
            for k, v in e["elements"].attrs.items()
            if k.startswith("flag_")
        }
        rule = {
            k: v for k, v in _get(e["evidence"]).items() if k not in ("signal", "axes", "title")
        }
        out["evidence"] = rule
        out["group_list"] = [
            {"members": [_text(m) for m in e["groups/members"].attrs[n]], "why": _text(e["groups/why"].attrs[n])}
            for n in out["group_names"]
        ]  # fmt: skip
        if "sum_spectrum" in e:
            g = e["sum_spectrum"]
            comps = [_text(n)[len("component_") :] for n in g.attrs["auxiliary_signals"]]
            out["sum_spectrum"] = {
                "energy_kev": g["energy"][()],
                "counts": g["counts"][()],
                "names": tuple(comps),
                "components": np.array([g[f"component_{n}"][()] for n in comps]),
            }
        if "layers" in e:
            stack = e["layers/probability"][()]  # (2K, H, W)
            k = stack.shape[0] // 2
            out["layers"] = np.stack([stack[:k], stack[k:]], axis=-1).transpose(1, 2, 0, 3)
        if "unaccounted" in e:
            g = e["unaccounted"]
            extra = {k: v for k, v in _get(g).items()
                     if k not in ("signal", "axes", "title", "candidates")}  # fmt: skip
            out["unaccounted"] = {
                "flags": maps("unaccounted", "flags").astype(bool),
                "elements": _names(g["names"]),
                "candidates": {k: [_text(x) for x in v] for k, v in _get(g["candidates"]).items()},
                **extra,
            }
        limits = out["attrs"].pop("limits", None)
        if limits:
            out["limits"] = limits
        out["model_card"] = out["attrs"].pop("model_card", {})
        out["axis"] = out["attrs"].pop("calibration", {})
        for key in ("instrument", "pigments", "sum_spectrum", "elements", "significance",
                    "evidence", "groups", "layers", "truth", "unaccounted"):  # fmt: skip
            out["attrs"].pop(key, None)
        if "truth/pigment_maps" in e:
            out["truth"] = e["truth/pigment_maps"][()]
            out["truth_names"] = _names(e["truth/names"])
            if "truth/layers" in e:
                out["truth_layers"] = e["truth/layers"][()]
            if "truth/top_strip" in e:
                out["strips"] = (e["truth/top_strip"][()], e["truth/bottom_strip"][()])
    return out
