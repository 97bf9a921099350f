"""fast-cnn: shapes, cost against the paper's CNN, learning, and the registry's input checks."""

import numpy as np
import pytest
import torch

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.ml.complexity import multiply_adds
from pigmentmap.ml.fast_cnn import FastCNN
from pigmentmap.ml.registry import create_model


def test_fast_cnn_is_at_least_10x_cheaper_than_the_paper_cnn():
    paper = create_model("paper-cnn", n_inputs=3815, n_classes=11)
    fast = create_model("fast-cnn", n_inputs=2000, n_classes=29, n_input_channels=2)
    ratio = multiply_adds(paper, input_shape=(3815,)) / multiply_adds(fast, input_shape=(2, 2000))
    assert ratio >= 10


def test_shapes_and_input_checks():
    m = create_model("fast-cnn", n_inputs=2000, n_classes=29, n_input_channels=2).eval()
    assert m(torch.zeros(4, 2, 2000)).shape == (4, 29)
    with pytest.raises(PigmentmapError, match="expects"):
        m(torch.zeros(4, 2000))
    one = FastCNN(n_inputs=500, n_classes=3, n_input_channels=1).eval()
    assert one(torch.zeros(2, 500)).shape == (2, 3)  # interchangeable with paper-cnn inputs
    with pytest.raises(PigmentmapError, match="one input channel"):
        create_model("paper-cnn", n_inputs=2000, n_classes=3, n_input_channels=2)
    with pytest.raises(PigmentmapError, match="too short"):
        FastCNN(n_inputs=8, n_classes=3)


def _peak_task(n=256, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 3)) < 0.5).astype(np.float32)
    pos = np.arange(400)
    x = np.zeros((n, 2, 400), dtype=np.float32)
    x[:, 1] = 1.0
    x[:, 0] = rng.normal(0, 0.05, (n, 400))
    for k, centre in enumerate((80, 200, 320)):
        x[:, 0] += y[:, k : k + 1] * np.exp(-0.5 * ((pos - centre) / 4.0) ** 2)
    return torch.from_numpy(x), torch.from_numpy(y)


def _train(*, seed: int, steps: int) -> tuple[FastCNN, list[float]]:
    x, y = _peak_task()
    torch.manual_seed(seed)
    m = FastCNN(n_inputs=400, n_classes=3)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(m(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # 15 steps leave running BatchNorm statistics averaged over weights long gone: recompute them
    # on the final weights (a cumulative average over the training set) before using eval mode
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm1d):
            mod.reset_running_stats()
            mod.momentum = None
    with torch.no_grad():
        m.train()
        m(x)
    return m.eval(), losses


@pytest.fixture(scope="module")
def trained() -> tuple[FastCNN, list[float]]:
    return _train(seed=0, steps=15)


def test_fast_cnn_learns_where_the_peaks_are(trained):
    m, losses = trained
    assert losses[-1] < 0.5 * losses[0]
    x, y = _peak_task(seed=1)  # held out
    with torch.no_grad():
        accuracy = ((m(x) > 0) == (y > 0.5)).float().mean().item()
    assert accuracy > 0.95


def test_training_is_deterministic_under_a_seed():
    a, losses_a = _train(seed=3, steps=3)
    b, losses_b = _train(seed=3, steps=3)
    assert losses_a == losses_b
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    _, losses_c = _train(seed=4, steps=3)
    assert losses_c != losses_a


def _one_peak(centre: float) -> torch.Tensor:
    x = torch.zeros(1, 2, 400)
    x[0, 1] = 1.0
    x[0, 0] = torch.exp(-0.5 * ((torch.arange(400.0) - centre) / 4.0) ** 2)
    return x


def test_a_small_shift_matters_less_than_moving_the_peak_to_another_class(trained):
    m, _ = trained
    with torch.no_grad():
        for here, there in ((80, 200), (200, 320), (320, 80)):
            base = m(_one_peak(here))
            swapped = (m(_one_peak(there)) - base).norm()
            for shift in (-4, 4):
                assert (m(_one_peak(here + shift)) - base).norm() < 0.5 * swapped
        probs = m.predict_proba(torch.cat([_one_peak(84), _one_peak(200)]))
    assert probs.argmax(dim=1).tolist() == [0, 1]
    assert probs[0, 0] > 0.5


def test_fused_model_gives_the_same_outputs():
    torch.manual_seed(1)
    m = FastCNN(n_inputs=400, n_classes=3)
    x, _ = _peak_task(n=64)
    m.train()
    m(x)  # move the BatchNorm running statistics away from their start
    m.eval()
    fused = m.fused()
    assert not any(isinstance(mod, torch.nn.BatchNorm1d) for mod in fused.modules())
    with torch.no_grad():
        assert torch.allclose(fused(x), m(x), atol=1e-4)
