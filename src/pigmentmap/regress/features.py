"""Spectra -> regression features: the CNN's preprocessing, optionally reduced by PCA."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.preprocess.preprocessor import Preprocessor


@dataclass(frozen=True)
class Features:
    """A preprocessor and an optional whitened PCA basis (mean and scaled components, as arrays)."""

    preprocessor: Preprocessor
    mean: np.ndarray | None = None
    components: np.ndarray | None = None

    @classmethod
    def fit(
        cls, spectra: np.ndarray, axis: EnergyAxis, *, n_components: int = 0, start_kev: float = 1.0
    ) -> Features:
        """Preprocessor for ``axis`` (from ``start_kev``); PCA with ``n_components`` (0 = none)."""
        pre = Preprocessor.for_axis(axis, start_kev=start_kev)
        if n_components <= 0:
            return cls(pre)
        x = pre(spectra, axis)
        if n_components > min(x.shape):
            raise PigmentmapError(
                f"--components {n_components} exceeds the data ({x.shape[0]} spectra)"
            )
        mean = x.mean(axis=0)
        if n_components < min(x.shape) // 4:
            # the leading components only: a randomized SVD (Halko et al. 2011) with power
            # iterations costs O(N C k) instead of O(N C^2), seconds instead of a minute on a
            # 200 x 200 scan, and matches the exact leading components to float precision
            from sklearn.utils.extmath import randomized_svd

            _, sv, vt = randomized_svd(
                (x - mean).astype(np.float64), n_components, n_oversamples=20, n_iter=7,
                random_state=0,
            )  # fmt: skip
        else:
            _, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
        # whitened: each component scaled to unit variance over the training spectra
        scale = np.sqrt(max(1, x.shape[0] - 1)) / np.maximum(sv[:n_components], 1e-12)
        return cls(
            pre, mean.astype(np.float32), (vt[:n_components] * scale[:, None]).astype(np.float32)
        )

    def __call__(self, spectra: np.ndarray, axis: EnergyAxis) -> np.ndarray:
        x = self.preprocessor(spectra, axis)
        if self.components is not None and self.mean is not None:
            x = (x - self.mean) @ self.components.T
        return x.astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """Arrays to store."""
        if self.components is None or self.mean is None:
            return {}
        return {"pca_mean": self.mean, "pca_components": self.components}
