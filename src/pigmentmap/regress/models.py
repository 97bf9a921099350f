"""Spectra -> RGB (kNN, lasso, SVR, autoencoder) and spectra -> element maps (MLP).

Every model is stored as arrays (``store.py``) and predicts with numpy (or torch for the
networks); scikit-learn fits lasso and SVR, and kNN's neighbours search is scikit-learn's, rebuilt
from the stored training arrays at prediction; nothing is ever pickled or unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.regress import store
from pigmentmap.regress.features import Features

RGB_METHODS = ("knn", "lasso", "svr", "autoencoder", "encoder")
SVR_MAX_SAMPLES = 4000


#: Feature sizes up to this are searched with a k-d tree, larger ones by brute force (a tree
#: stops pruning in many dimensions: the preprocessed spectrum has hundreds).
KD_TREE_MAX_FEATURES = 20


def knn_algorithm(n_features: int) -> str:
    """scikit-learn's neighbours search for ``n_features``: ``"kd_tree"`` or ``"brute"``.

    Examples
    --------
    >>> knn_algorithm(20), knn_algorithm(700)
    ('kd_tree', 'brute')
    """
    return "kd_tree" if n_features <= KD_TREE_MAX_FEATURES else "brute"


def _knn_predict(
    x: np.ndarray, train_x: np.ndarray, train_y: np.ndarray, k: int, algorithm: str
) -> np.ndarray:
    """Mean of the ``k`` nearest (Euclidean) training targets, with scikit-learn's search rebuilt
    from the stored arrays (a k-d tree is built in milliseconds; nothing is unpickled)."""
    from sklearn.neighbors import KNeighborsRegressor

    if algorithm not in ("kd_tree", "ball_tree", "brute"):
        raise PigmentmapError(f"unknown neighbours search '{algorithm}' in the model card")
    search = KNeighborsRegressor(n_neighbors=min(k, len(train_x)), algorithm=algorithm)
    return np.asarray(search.fit(train_x, train_y).predict(x), dtype=np.float64)


def _rbf(x: np.ndarray, sv: np.ndarray, gamma: float) -> np.ndarray:
    d = (x**2).sum(axis=1)[:, None] + (sv**2).sum(axis=1)[None, :] - 2 * x @ sv.T
    return np.exp(-gamma * np.clip(d, 0, None))


def train_rgb(
    spectra: np.ndarray,
    axis: EnergyAxis,
    rgb: np.ndarray,
    *,
    method: str,
    out: str | Path,
    components: int = 0,
    k: int = 10,
    alpha: float = 1e-3,
    svr_c: float = 1.0,
    c: float = 0.1,
    epochs: int = 200,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Fit spectra (N, C) -> sRGB (N, 3) in [0, 1] and save the model folder."""
    if method not in RGB_METHODS:
        raise PigmentmapError(f"unknown method '{method}' (use {', '.join(RGB_METHODS)})")
    if len(spectra) != len(rgb) or len(spectra) < 2:
        raise PigmentmapError(
            f"{len(spectra)} spectra and {len(rgb)} colours: need as many, at least 2"
        )
    feats = Features.fit(spectra, axis, n_components=components)
    x = feats(spectra, axis).astype(np.float64)
    arrays: dict[str, np.ndarray] = {}
    params: dict[str, Any] = {"components": components, "seed": seed}
    if method == "knn":
        arrays = {"train_x": x.astype(np.float32), "train_y": rgb.astype(np.float32)}
        params.update({"k": k, "algorithm": knn_algorithm(x.shape[1]), "metric": "euclidean"})
    elif method == "lasso":
        from sklearn.linear_model import Lasso

        m = Lasso(alpha=alpha, max_iter=5000).fit(x, rgb)
        arrays = {
            "coef": m.coef_.astype(np.float64),
            "intercept": np.atleast_1d(m.intercept_).astype(np.float64),
        }
        params["alpha"] = alpha
    elif method == "svr":
        from sklearn.svm import SVR

        rng = np.random.default_rng(seed)
        idx = rng.choice(len(x), size=min(len(x), SVR_MAX_SAMPLES), replace=False)
        for ch in range(3):
            m = SVR(kernel="rbf", C=svr_c, gamma="scale").fit(x[idx], rgb[idx, ch])
            arrays[f"svr{ch}.sv"] = m.support_vectors_.astype(np.float64)
            arrays[f"svr{ch}.dual"] = m.dual_coef_.ravel().astype(np.float64)
            arrays[f"svr{ch}.b"] = np.atleast_1d(m.intercept_).astype(np.float64)
            arrays[f"svr{ch}.gamma"] = np.array([m._gamma], dtype=np.float64)
        params.update({"C": svr_c, "kernel": "rbf", "gamma": "scale", "n_train": len(idx)})
    else:
        from pigmentmap.regress.networks import state_arrays, train_autoencoder

        variant = "combined" if method == "autoencoder" else "encoder"
        model = train_autoencoder(
            x.astype(np.float32), rgb, variant=variant, c=c, epochs=epochs, seed=seed,
            progress=progress,
        )  # fmt: skip
        arrays = state_arrays(model, "ae")
        params.update({"variant": variant, "c": c, "epochs": epochs, "n_in": x.shape[1]})
    card = {
        "task": "rgb",
        "method": method,
        "params": params,
        "outputs": ["R", "G", "B"],
        "n_train": len(x),
    }
    return store.save(out, arrays, card, feats, overwrite=overwrite)


def predict(
    folder: str | Path, spectra: np.ndarray, axis: EnergyAxis
) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Predictions (N, outputs) of a saved model, its output names and card."""
    arrays, card, feats = store.load(folder)
    x = feats(spectra, axis).astype(np.float64)
    method = card["method"]
    if method == "knn":
        y = _knn_predict(
            x,
            arrays["train_x"].astype(np.float64),
            arrays["train_y"].astype(np.float64),
            card["params"]["k"],
            card["params"].get("algorithm") or knn_algorithm(x.shape[1]),
        )
    elif method == "lasso":
        y = x @ arrays["coef"].T + arrays["intercept"]
    elif method == "svr":
        y = np.stack(
            [
                _rbf(x, arrays[f"svr{ch}.sv"], float(arrays[f"svr{ch}.gamma"][0]))
                @ arrays[f"svr{ch}.dual"]
                + arrays[f"svr{ch}.b"][0]
                for ch in range(3)
            ],
            axis=1,
        )
    elif method in ("autoencoder", "encoder"):
        import torch

        from pigmentmap.regress.networks import RGBAutoencoder, load_state, single_thread

        model = load_state(RGBAutoencoder(card["params"]["n_in"]), arrays, "ae")
        with torch.no_grad(), single_thread():
            y = model(torch.from_numpy(x.astype(np.float32)))[0].numpy().astype(np.float64)
    elif method == "mlp":
        import torch

        from pigmentmap.regress.networks import ElementMLP, load_state, single_thread

        p = card["params"]
        model = load_state(ElementMLP(p["n_in"], len(card["outputs"]), p["hidden"]), arrays, "mlp")
        with torch.no_grad(), single_thread():
            z = model(torch.from_numpy(x.astype(np.float32))).numpy().astype(np.float64)
        y = np.clip(z * arrays["y_std"] + arrays["y_mean"], 0, None)
    else:
        raise PigmentmapError(f"model '{folder}' has an unknown method '{method}'")
    if card["task"] == "rgb":
        y = np.clip(y, 0.0, 1.0)
    return y, list(card["outputs"]), card


def train_elements(
    spectra: np.ndarray,
    axis: EnergyAxis,
    maps: np.ndarray,
    names: list[str],
    *,
    out: str | Path,
    elements: list[str] | None = None,
    hidden: int = 128,
    components: int = 0,
    epochs: int = 100,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Fit an MLP from spectra (N, C) to element maps (N, E) (the output of ``pigmentmap fit``)."""
    if elements:
        missing = [e for e in elements if e not in names]
        if missing:
            raise PigmentmapError(
                f"the training maps lack {', '.join(missing)} (they have {', '.join(names)})"
            )
        maps = maps[:, [names.index(e) for e in elements]]
        names = list(elements)
    from pigmentmap.regress.networks import state_arrays, train_mlp

    feats = Features.fit(spectra, axis, n_components=components)
    x = feats(spectra, axis)
    mean, std = maps.mean(axis=0), maps.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    model = train_mlp(
        x, (maps - mean) / std, hidden=hidden, epochs=epochs, seed=seed, progress=progress
    )
    arrays = {
        **state_arrays(model, "mlp"),
        "y_mean": mean.astype(np.float64),
        "y_std": std.astype(np.float64),
    }
    card = {"task": "elements", "method": "mlp", "outputs": names, "n_train": len(x),
            "params": {"hidden": hidden, "epochs": epochs, "components": components, "seed": seed, "n_in": x.shape[1]}}  # fmt: skip
    return store.save(out, arrays, card, feats, overwrite=overwrite)
