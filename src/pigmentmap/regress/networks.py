"""The seed's networks (torch): the RGB autoencoder and the one-hidden-layer element MLP."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread: these networks are tiny, and torch's OpenMP pool competing with
    scikit-learn's (used for lasso/SVR in the same process) slows them down many times over."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _widths(n_in: int, n_out: int, n_layers: int = 5) -> list[int]:
    """Geometric downsampling from n_in to n_out in n_layers steps."""
    return [max(n_out, round(n_in * (n_out / n_in) ** (k / n_layers))) for k in range(n_layers + 1)]


class RGBAutoencoder(nn.Module):
    """Encoder: 5 Linear layers down to a 3-dimensional latent, the RGB prediction, with ReLU
    after the first four and a sigmoid after the fifth (a ReLU there dies at 0 and the latent would
    not be a colour in [0, 1]). Decoder: the mirror image, back to the input.

    Examples
    --------
    >>> import torch
    >>> ae = RGBAutoencoder(200)
    >>> rgb, rec = ae(torch.zeros(4, 200))
    >>> rgb.shape, rec.shape
    (torch.Size([4, 3]), torch.Size([4, 200]))
    """

    def __init__(self, n_in: int) -> None:
        super().__init__()
        w = _widths(n_in, 3)
        enc: list[nn.Module] = []
        for k, (a, b) in enumerate(itertools.pairwise(w)):
            enc += [nn.Linear(a, b), nn.ReLU() if k < len(w) - 2 else nn.Sigmoid()]
        self.encoder = nn.Sequential(*enc)
        r = w[::-1]
        dec: list[nn.Module] = []
        for k, (a, b) in enumerate(itertools.pairwise(r)):
            dec += [nn.Linear(a, b)] + ([nn.ReLU()] if k < len(r) - 2 else [])
        self.decoder = nn.Sequential(*dec)
        self.n_in = n_in

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latent = self.encoder(x)
        return latent, self.decoder(latent)


def autoencoder_losses(
    model: RGBAutoencoder, x: torch.Tensor, rgb: torch.Tensor, *, c: float, variant: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(encoder loss, decoder loss) of the seed: decoder = L2 reconstruction; encoder = RGB L2 +
    c x reconstruction ("combined") or RGB L2 alone ("encoder")."""
    latent, rec = model(x)
    rec_loss = ((rec - x) ** 2).mean()
    rgb_loss = ((latent - rgb) ** 2).mean()
    enc_loss = rgb_loss + c * rec_loss if variant == "combined" else rgb_loss
    return enc_loss, rec_loss


def train_autoencoder(
    x: np.ndarray,
    rgb: np.ndarray,
    *,
    variant: str,
    c: float,
    epochs: int,
    seed: int,
    lr: float = 1e-3,
    progress: bool = False,
) -> RGBAutoencoder:
    """Train the encoder on its loss and the decoder on the reconstruction loss."""
    with single_thread():
        return _train_autoencoder(
            x, rgb, variant=variant, c=c, epochs=epochs, seed=seed, lr=lr, progress=progress
        )


def _epochs(epochs: int, progress: bool, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(range(epochs), disable=not progress, desc=desc, unit="epoch")


def _train_autoencoder(
    x: np.ndarray,
    rgb: np.ndarray,
    *,
    variant: str,
    c: float,
    epochs: int,
    seed: int,
    lr: float,
    progress: bool,
) -> RGBAutoencoder:
    torch.manual_seed(seed)
    model = RGBAutoencoder(x.shape[1])
    enc_opt = torch.optim.Adam(model.encoder.parameters(), lr=lr)
    dec_opt = torch.optim.Adam(model.decoder.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(rgb.astype(np.float32))
    rng = np.random.default_rng(seed)
    for _ in _epochs(epochs, progress, "train autoencoder"):
        for idx in np.array_split(rng.permutation(len(x)), max(1, len(x) // 64)):
            enc_loss, rec_loss = autoencoder_losses(model, xt[idx], yt[idx], c=c, variant=variant)
            enc_opt.zero_grad()
            dec_opt.zero_grad()
            # encoder parameters get d(enc_loss); decoder parameters get d(rec_loss)
            enc_grads = torch.autograd.grad(
                enc_loss, list(model.encoder.parameters()), retain_graph=True
            )
            dec_grads = torch.autograd.grad(rec_loss, list(model.decoder.parameters()))
            for p, g in zip(model.encoder.parameters(), enc_grads, strict=True):
                p.grad = g
            for p, g in zip(model.decoder.parameters(), dec_grads, strict=True):
                p.grad = g
            enc_opt.step()
            dec_opt.step()
    return model.eval()


class ElementMLP(nn.Module):
    """Spectrum features -> element maps: one hidden layer (the seed's choice)."""

    def __init__(self, n_in: int, n_out: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    *,
    hidden: int,
    epochs: int,
    seed: int,
    lr: float = 1e-3,
    progress: bool = False,
) -> ElementMLP:
    """MSE regression of standardised targets."""
    with single_thread():
        return _train_mlp(x, y, hidden=hidden, epochs=epochs, seed=seed, lr=lr, progress=progress)


def _train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    *,
    hidden: int,
    epochs: int,
    seed: int,
    lr: float,
    progress: bool,
) -> ElementMLP:
    torch.manual_seed(seed)
    model = ElementMLP(x.shape[1], y.shape[1], hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    rng = np.random.default_rng(seed)
    for _ in _epochs(epochs, progress, "train MLP"):
        for idx in np.array_split(rng.permutation(len(x)), max(1, len(x) // 64)):
            loss = ((model(xt[idx]) - yt[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def state_arrays(model: nn.Module, prefix: str) -> dict[str, np.ndarray]:
    """A module's weights as numpy arrays (for safetensors)."""
    return {f"{prefix}.{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def load_state(model: nn.Module, arrays: dict[str, np.ndarray], prefix: str) -> nn.Module:
    """Fill a module from :func:`state_arrays` output; strict."""
    state = {
        k[len(prefix) + 1 :]: torch.from_numpy(np.array(v))
        for k, v in arrays.items()
        if k.startswith(prefix + ".")
    }
    model.load_state_dict(state, strict=True)
    return model.eval()
