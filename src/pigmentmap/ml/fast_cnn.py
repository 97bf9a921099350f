"""``fast-cnn``: a 1D CNN for museum laptops, about 17x cheaper than the paper's per spectrum.

Input: (N, C_in, L) (the canonical input is 2 x 2000: a spectrum on 1-41 keV in 20 eV bins and
the mask of the bins the scan covers). A strided stem halves the length; four depthwise-separable
blocks (a per-channel convolution that looks along energy, a max-pool that halves the length,
then a 1x1 convolution that mixes channels); the flattened features keep where along the energy axis each
feature was found (the position of a peak is what names its element), and a linear head gives one
logit per class. Multiply-adds are counted by :func:`pigmentmap.ml.complexity.multiply_adds`.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.ml.registry import register

STEM_WIDTH = 16
WIDTHS = (32, 64, 96, 128)
DEPTHWISE_KERNEL = 7


def _features_length(n_inputs: int) -> int:
    n = (n_inputs + 2 * 4 - 9) // 2 + 1  # stem: kernel 9, stride 2, padding 4
    for _ in WIDTHS:
        n //= 2
    return n


def _separable(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(c_in, c_in, DEPTHWISE_KERNEL, padding=DEPTHWISE_KERNEL // 2, groups=c_in),
        nn.BatchNorm1d(c_in),
        nn.ReLU(),
        nn.MaxPool1d(2),  # before the 1x1 convolution: it then mixes half as many positions
        nn.Conv1d(c_in, c_out, 1),
        nn.BatchNorm1d(c_out),
        nn.ReLU(),
    )


class FastCNN(nn.Module):
    """Strided stem + 4 depthwise-separable blocks + linear head.

    Examples
    --------
    >>> import torch
    >>> m = FastCNN(n_inputs=2000, n_classes=29).eval()
    >>> m(torch.zeros(3, 2, 2000)).shape
    torch.Size([3, 29])
    """

    def __init__(self, *, n_inputs: int, n_classes: int, n_input_channels: int = 2) -> None:
        super().__init__()
        if _features_length(n_inputs) < 1:
            raise PigmentmapError(f"input of {n_inputs} channels is too short for fast-cnn")
        if n_input_channels < 1:
            raise PigmentmapError("fast-cnn needs at least one input channel")
        layers: list[nn.Module] = [
            nn.Conv1d(n_input_channels, STEM_WIDTH, 9, stride=2, padding=4),
            nn.BatchNorm1d(STEM_WIDTH),
            nn.ReLU(),
        ]
        c = STEM_WIDTH
        for width in WIDTHS:
            layers.append(_separable(c, width))
            c = width
        layers += [nn.Dropout(0.2), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c * _features_length(n_inputs), n_classes)
        self.n_inputs = n_inputs
        self.n_classes = n_classes
        self.n_input_channels = n_input_channels

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, n_inputs) (or (N, n_inputs) with one input channel) -> flat features."""
        if x.dim() == 2 and self.n_input_channels == 1:
            x = x.unsqueeze(1)
        if x.dim() != 3 or x.shape[1] != self.n_input_channels or x.shape[2] != self.n_inputs:
            raise PigmentmapError(
                f"fast-cnn expects (N, {self.n_input_channels}, {self.n_inputs}) inputs, "
                f"got {tuple(x.shape)}"
            )
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs -> logits (N, n_classes)."""
        return self.head(self.forward_features(x))

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Sigmoid probabilities, in eval mode."""
        self.eval()
        return torch.sigmoid(self(x))

    @torch.no_grad()
    def fused(self) -> FastCNN:
        """A copy for inference with every BatchNorm folded into the convolution before it.

        In eval mode a BatchNorm is an affine map per channel, so ``conv -> BN`` equals one
        convolution with rescaled weights and bias: the same outputs (to float rounding) for
        less work per pixel.
        """
        import copy

        out = copy.deepcopy(self).eval()
        seqs = [out.features, *(m for m in out.features if isinstance(m, nn.Sequential))]
        for seq in seqs:
            mods = list(seq)
            for i in range(len(mods) - 1):
                conv, bn = mods[i], mods[i + 1]
                if isinstance(conv, nn.Conv1d) and isinstance(bn, nn.BatchNorm1d):
                    assert bn.running_var is not None and bn.running_mean is not None
                    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                    conv.weight.mul_(scale[:, None, None])
                    bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
                    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias)
                    seq[i + 1] = nn.Identity()
        return out


@register("fast-cnn")
def fast_cnn(*, n_inputs: int, n_classes: int, n_input_channels: int = 2) -> FastCNN:
    """Builder for the registry."""
    return FastCNN(n_inputs=n_inputs, n_classes=n_classes, n_input_channels=n_input_channels)


def frozen_for_inference(model: nn.Module, *, n_input_channels: int, n_inputs: int) -> nn.Module:
    """A TorchScript copy of ``model`` (eval mode), frozen and optimised for inference: the
    weights become constants and the convolutions run through oneDNN with their ReLUs fused.

    Same outputs to float rounding (checked here on a batch of another size) and several times
    faster on CPU than eager mode for fast-cnn. Tracing is only an optimisation: where it fails
    or disagrees, ``model`` itself is returned. A frozen module does not pickle; keep the eager
    model for that (see :class:`~pigmentmap.mapping.pigments.PigmentPredictor`).

    Examples
    --------
    >>> import torch
    >>> m = FastCNN(n_inputs=400, n_classes=5).eval()
    >>> f = frozen_for_inference(m, n_input_channels=2, n_inputs=400)
    >>> x = torch.rand(7, 2, 400)
    >>> bool(torch.allclose(f(x), m(x), atol=1e-5))
    True
    """
    model = model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on the input-shape checks
            traced = torch.jit.trace(
                model, torch.rand(4, n_input_channels, n_inputs), check_trace=False
            )
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            probe = torch.rand(3, n_input_channels, n_inputs)
            if torch.allclose(frozen(probe), model(probe), rtol=1e-4, atol=1e-4):
                return frozen
    except Exception:  # any tracing failure: the eager model is still right
        pass
    return model
