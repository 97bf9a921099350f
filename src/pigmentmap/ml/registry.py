"""A small model registry: architecture name -> builder(n_inputs, n_classes)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from pigmentmap.core.errors import PigmentmapError

_REGISTRY: dict[str, Callable[..., torch.nn.Module]] = {}


def register(
    name: str,
) -> Callable[[Callable[..., torch.nn.Module]], Callable[..., torch.nn.Module]]:
    """Decorator: make a model builder available under ``name``."""

    def wrap(builder: Callable[..., torch.nn.Module]) -> Callable[..., torch.nn.Module]:
        _REGISTRY[name] = builder
        return builder

    return wrap


def architectures() -> list[str]:
    """Registered architecture names.

    Examples
    --------
    >>> "paper-cnn" in architectures()
    True
    """
    import pigmentmap.ml.fast_cnn
    import pigmentmap.ml.paper_cnn  # noqa: F401  (registers itself)

    return sorted(_REGISTRY)


def create_model(
    name: str, *, n_inputs: int, n_classes: int, n_input_channels: int = 1
) -> torch.nn.Module:
    """Build a registered architecture for inputs of ``n_input_channels`` x ``n_inputs``.

    Examples
    --------
    >>> m = create_model("paper-cnn", n_inputs=3815, n_classes=11)
    >>> type(m).__name__
    'PaperCNN'
    """
    if name not in architectures():
        raise PigmentmapError(
            f"unknown architecture '{name}' (known: {', '.join(architectures())})"
        )
    if name == "paper-cnn":
        if n_input_channels != 1:
            raise PigmentmapError(
                "paper-cnn takes one input channel (no mask): use fast-cnn for the canonical input"
            )
        return _REGISTRY[name](n_inputs=n_inputs, n_classes=n_classes)
    return _REGISTRY[name](
        n_inputs=n_inputs, n_classes=n_classes, n_input_channels=n_input_channels
    )
