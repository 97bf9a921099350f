"""Cost of a model: multiply-adds of one spectrum's forward pass, counted from the layers run."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def multiply_adds(model: nn.Module, *, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of a forward pass of one input of ``input_shape`` (no batch dimension).

    Counted on the layers actually run (forward hooks): a ``Conv1d`` costs output length x output
    channels x (input channels / groups) x kernel size, a ``Linear`` inputs x outputs.
    BatchNorm, activations, pooling and dropout are not counted (they cost a few operations per
    value, not per weight).

    Examples
    --------
    >>> from torch import nn
    >>> m = nn.Sequential(nn.Conv1d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 8, 2))
    >>> multiply_adds(m, input_shape=(1, 10))
    160
    """
    total = 0

    def conv(mod: nn.Conv1d, _inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        k = mod.kernel_size[0]
        total += out.shape[-1] * mod.out_channels * (mod.in_channels // mod.groups) * k

    def linear(mod: nn.Linear, _inp: Any, _out: torch.Tensor) -> None:
        nonlocal total
        total += mod.in_features * mod.out_features

    hooks = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv1d):
            hooks.append(mod.register_forward_hook(conv))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(linear))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape)))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return int(total)
