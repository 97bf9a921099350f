"""multiply_adds: hand counts of small layers, of the paper's CNN and of fast-cnn; no side effects."""

import torch
from torch import nn

from pigmentmap.ml.complexity import multiply_adds
from pigmentmap.ml.fast_cnn import DEPTHWISE_KERNEL, STEM_WIDTH, WIDTHS
from pigmentmap.ml.paper_cnn import KERNEL_SIZES, KERNELS
from pigmentmap.ml.registry import create_model


def test_grouped_strided_padded_conv_and_linear_by_hand():
    m = nn.Sequential(
        nn.Conv1d(4, 4, 5, stride=2, padding=2, groups=4),  # 20 -> 10 positions, 1 input each
        nn.BatchNorm1d(4),
        nn.ReLU(),
        nn.Conv1d(4, 8, 1),
        nn.MaxPool1d(2),  # 10 -> 5
        nn.Flatten(),
        nn.Linear(8 * 5, 3),
    )
    expected = 10 * 4 * 1 * 5 + 10 * 8 * 4 * 1 + 40 * 3
    assert multiply_adds(m, input_shape=(4, 20)) == expected


def test_counts_what_runs_and_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2), nn.Flatten(), nn.Linear(2 * 6, 1))
    m.train()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    first = multiply_adds(m, input_shape=(1, 8))
    assert multiply_adds(m, input_shape=(1, 8)) == first == 6 * 2 * 3 + 12
    assert m.training
    assert all(not mod._forward_hooks for mod in m.modules())
    after = m.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics untouched
    # the output length follows the input: a longer input costs more convolution work
    longer = nn.Sequential(nn.Conv1d(1, 2, 3))
    assert multiply_adds(longer, input_shape=(1, 108)) == 106 * 2 * 3


def _paper_cnn_macs_by_hand(n: int, n_classes: int) -> int:
    total, c_in = 0, 1
    for c_out, k in zip(KERNELS, KERNEL_SIZES, strict=True):
        n = n - k + 1  # "valid" convolution
        total += n * c_out * c_in * k
        n //= 2  # max-pool
        c_in = c_out
    n = n - 3 + 1
    total += n * 128 * c_in * 3
    return total + 128 * n * n_classes


def test_paper_cnn_at_3815_inputs_costs_about_54_million_multiply_adds():
    m = create_model("paper-cnn", n_inputs=3815, n_classes=11)
    counted = multiply_adds(m, input_shape=(3815,))
    assert counted == _paper_cnn_macs_by_hand(3815, 11)
    assert abs(counted - 54e6) < 0.05 * 54e6


def _fast_cnn_macs_by_hand(n: int, c_in: int, n_classes: int) -> int:
    n = (n + 2 * 4 - 9) // 2 + 1  # stem: kernel 9, stride 2, padding 4
    total = n * STEM_WIDTH * c_in * 9
    c = STEM_WIDTH
    for width in WIDTHS:
        total += n * c * DEPTHWISE_KERNEL  # depthwise: one input channel per output channel
        n //= 2  # max-pool, before the 1x1 convolution
        total += n * width * c  # pointwise
        c = width
    return total + c * n * n_classes


def test_fast_cnn_count_matches_the_hand_count():
    m = create_model("fast-cnn", n_inputs=2000, n_classes=29, n_input_channels=2)
    counted = multiply_adds(m, input_shape=(2, 2000))
    assert counted == _fast_cnn_macs_by_hand(2000, 2, 29)
    assert counted < 5.4e6
