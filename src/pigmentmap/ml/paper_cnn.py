"""The 1D CNN of Xu et al. (JAAS 2022), Fig. 2.

Five blocks of Conv1d -> LeakyReLU(0.01) -> BatchNorm -> MaxPool(2) with 64, 64, 64, 64, 128
kernels of sizes 5, 3, 3, 3, 3; then Conv1d(128, 3) -> BatchNorm -> Dropout(0.25) -> Flatten ->
Dense(n_classes); a sigmoid per class (applied by :meth:`PaperCNN.predict_proba`; training uses the
logits with ``BCEWithLogitsLoss``, the same loss computed stably). Convolutions are unpadded
("valid", the Keras default the paper used).
"""

from __future__ import annotations

import torch
from torch import nn

from pigmentmap.ml.registry import register

KERNELS = (64, 64, 64, 64, 128)
KERNEL_SIZES = (5, 3, 3, 3, 3)


def _features_length(n_inputs: int) -> int:
    n = n_inputs
    for size in KERNEL_SIZES:
        n = (n - size + 1) // 2
    return n - 3 + 1


class PaperCNN(nn.Module):
    """The paper's CNN: ``forward_features`` (the convolutional part) and ``head``.

    Examples
    --------
    >>> import torch
    >>> m = PaperCNN(n_inputs=3815, n_classes=11).eval()
    >>> m(torch.zeros(2, 3815)).shape
    torch.Size([2, 11])
    """

    def __init__(self, *, n_inputs: int, n_classes: int) -> None:
        super().__init__()
        if _features_length(n_inputs) < 1:
            raise ValueError(f"input of {n_inputs} channels is too short for the paper's CNN")
        layers: list[nn.Module] = []
        in_ch = 1
        for out_ch, size in zip(KERNELS, KERNEL_SIZES, strict=True):
            layers += [
                nn.Conv1d(in_ch, out_ch, size),
                nn.LeakyReLU(0.01),
                nn.BatchNorm1d(out_ch),
                nn.MaxPool1d(2),
            ]
            in_ch = out_ch
        layers += [nn.Conv1d(in_ch, 128, 3), nn.BatchNorm1d(128), nn.Dropout(0.25), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(128 * _features_length(n_inputs), n_classes)
        self.n_inputs = n_inputs
        self.n_classes = n_classes

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, n_inputs) -> flattened features."""
        return self.features(x.unsqueeze(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, n_inputs) -> logits (N, n_classes)."""
        return self.head(self.forward_features(x))

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Sigmoid probabilities, in eval mode."""
        self.eval()
        return torch.sigmoid(self(x))


@register("paper-cnn")
def paper_cnn(*, n_inputs: int, n_classes: int) -> PaperCNN:
    """Builder for the registry."""
    return PaperCNN(n_inputs=n_inputs, n_classes=n_classes)
