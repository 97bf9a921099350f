"""The ``regress`` command (spectra -> RGB colour, spectra -> element maps)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pigmentmap.cli._common import SEED, add_reader_options, number, open_scan
from pigmentmap.core.errors import PigmentmapError


def _scan_truth_rgb(path: str) -> Any:
    import h5py

    p = Path(path)
    if p.is_file() and h5py.is_hdf5(p):
        with h5py.File(p, "r") as f:
            if "truth/rgb" in f:
                return f["truth/rgb"][()] / 255.0
    return None


def _cmd_regress(args: argparse.Namespace) -> int:
    import h5py
    import numpy as np

    from pigmentmap.regress.models import predict, train_elements, train_rgb

    cube = open_scan(args)
    h, w, c = cube.shape
    spectra = np.asarray(cube.counts, dtype=np.float64).reshape(-1, c)
    if args.task == "rgb" and args.action == "train":
        from pigmentmap.regress.images import read_image, register_image

        if args.image:
            rgb = register_image(read_image(args.image), (h, w), register=args.register)
        else:
            truth = _scan_truth_rgb(args.file)
            if truth is None:
                raise PigmentmapError("give --image (a registered colour image of the scan)")
            rgb = truth
        path = train_rgb(
            spectra, cube.axis, np.asarray(rgb).reshape(-1, 3), method=args.method, out=args.out,
            components=args.components, k=args.k, c=args.c, epochs=args.epochs, seed=args.seed, overwrite=args.overwrite,
            progress=True,
        )  # fmt: skip
        print(f"wrote {path} ({args.method}, {h * w} pixels)")
        return 0
    if args.task == "elements" and args.action == "train":
        if not args.maps:
            raise PigmentmapError(
                "give --maps: the element maps of this scan (pigmentmap fit ... --out elements.h5)"
            )
        with h5py.File(args.maps, "r") as f:
            if "element_maps" not in f:
                raise PigmentmapError(f"'{args.maps}' has no /element_maps")
            maps = f["element_maps"][()]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["element_names"][()]]
        if maps.shape[:2] != (h, w):
            raise PigmentmapError(
                f"the maps are {maps.shape[0]} x {maps.shape[1]}, the scan {h} x {w}"
            )
        elements = [e.strip() for e in args.elements.split(",")] if args.elements else None
        path = train_elements(
            spectra, cube.axis, maps.reshape(h * w, -1), names, out=args.out, elements=elements,
            components=args.components, epochs=args.epochs, seed=args.seed, overwrite=args.overwrite,
            progress=True,
        )  # fmt: skip
        print(f"wrote {path} (MLP, {h * w} pixels)")
        return 0
    # predict
    from pigmentmap.core.atomic import check_new_file

    if not args.model:
        raise PigmentmapError("predict needs --model")
    out = check_new_file(args.out, overwrite=args.overwrite)
    y, names, card = predict(args.model, spectra, cube.axis)
    if card["task"] != args.task:
        raise PigmentmapError(f"'{args.model}' is a {card['task']} model, not {args.task}")
    if args.task == "rgb":
        from pigmentmap.regress.images import write_image

        if out.suffix.lower() != ".png":
            raise PigmentmapError("the predicted colour image is written as .png")
        write_image(out, y.reshape(h, w, 3))
    else:
        from pigmentmap.core.atomic import atomic_path

        with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
            f["element_maps"] = y.reshape(h, w, -1).astype(np.float32)
            f["element_names"] = np.array(names, dtype=h5py.string_dtype())
            f.attrs["model"] = str(args.model)
    print(f"wrote {out}")
    return 0


def register(sub: Any) -> None:
    """Add this group's subcommands to ``sub``."""
    rg = sub.add_parser(
        "regress",
        help="spectra -> RGB colour, spectra -> element maps (the second seed)",
        description="rgb: kNN (k=10), lasso, SVR, autoencoder (encoder + decoder, combined loss) or encoder "
        "(RGB loss only). elements: an MLP with one hidden layer trained on `pigmentmap fit` maps.",
        epilog="Examples: pigmentmap regress rgb train scan.h5 --image photo.png --method knn --out rgb-model/ | "
        "pigmentmap regress rgb predict other.h5 --model rgb-model/ --out colour.png | "
        "pigmentmap regress elements train scan.h5 --maps elements.h5 --out mlp/",
    )
    rg.add_argument("task", choices=["rgb", "elements"])
    rg.add_argument("action", choices=["train", "predict"])
    add_reader_options(rg)
    rg.add_argument(
        "--out", required=True, help="model folder (train) or output .png / .h5 (predict)"
    )
    rg.add_argument("--model", help="predict: the model folder")
    rg.add_argument("--image", help="rgb train: registered colour image (PNG/TIFF) of the scan")
    rg.add_argument(
        "--register", action="store_true", help="resize an image that is a scaled view of the scan"
    )
    rg.add_argument(
        "--method", default="knn", choices=["knn", "lasso", "svr", "autoencoder", "encoder"]
    )
    rg.add_argument(
        "--maps", help="elements train: element maps of the scan (HDF5 from pigmentmap fit)"
    )
    rg.add_argument("--elements", help="elements train: which elements (default all in --maps)")
    rg.add_argument(
        "--components",
        type=number(int, lo=0, hi=100000),
        default=0,
        help="PCA components (0 = the preprocessed spectrum)",
    )
    rg.add_argument(
        "--k", type=number(int, lo=1, hi=100000), default=10, help="kNN neighbours (the seed: 10)"
    )
    rg.add_argument(
        "--c",
        type=number(float, lo=0, hi=1e6),
        default=0.1,
        help="autoencoder: weight of the reconstruction loss",
    )
    rg.add_argument("--epochs", type=number(int, lo=1, hi=100000), default=100)
    rg.add_argument("--seed", type=SEED, default=0)
    rg.add_argument("--overwrite", action="store_true")
    rg.set_defaults(func=_cmd_regress)
