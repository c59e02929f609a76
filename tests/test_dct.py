"""DCT-II filter bank (eq. 1) and compression level lambda."""

import math

import pytest
import torch

from harmonic.dct import dct_coefficients, dct_filters, dct_frequencies, n_filters, spectral_maps


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7])
def test_ortho_bank_is_orthonormal(k):
    bank = dct_filters(k, norm="ortho", dtype=torch.float64).reshape(k * k, k * k)
    torch.testing.assert_close(bank @ bank.T, torch.eye(k * k, dtype=torch.float64))


def test_filter_values_match_hand_computation():
    bank = dct_filters(3, norm=None, dtype=torch.float64)
    pairs = dct_frequencies(3)
    # psi_{1,2}[0, 1] = cos(pi/3 * 0.5 * 1) * cos(pi/3 * 1.5 * 2) = cos(pi/6) * cos(pi) = -sqrt(3)/2
    f = pairs.index((1, 2))
    assert bank[f, 0, 1].item() == pytest.approx(-math.sqrt(3) / 2)
    # psi_{2,0}[1, y] = cos(pi/3 * 1.5 * 2) = -1 for every column y
    torch.testing.assert_close(bank[pairs.index((2, 0)), 1], -torch.ones(3, dtype=torch.float64))
    # Orthonormal scaling alpha_1 alpha_2 = sqrt(2/3) sqrt(2/3)
    ortho = dct_filters(3, norm="ortho", dtype=torch.float64)
    assert ortho[f, 0, 1].item() == pytest.approx(-math.sqrt(3) / 2 * 2 / 3)
    # DC: constant 1 (unnormalised), 1/k (ortho), 1/k^2 (l1)
    torch.testing.assert_close(bank[0], torch.ones(3, 3, dtype=torch.float64))
    torch.testing.assert_close(ortho[0], torch.full((3, 3), 1 / 3, dtype=torch.float64))
    l1 = dct_filters(3, norm="l1", dtype=torch.float64)
    torch.testing.assert_close(l1[0], torch.full((3, 3), 1 / 9, dtype=torch.float64))


def test_l1_norm_and_row_major_layout():
    bank = dct_filters(4, norm="l1", dtype=torch.float64)
    torch.testing.assert_close(bank.abs().sum(dim=(1, 2)), torch.ones(16, dtype=torch.float64))
    # u indexes rows (x): psi_{1,0} varies down the rows and is constant along a row
    psi_10 = bank[dct_frequencies(4).index((1, 0))]
    assert torch.all(psi_10[:, 0] == psi_10[:, 3])
    assert psi_10[0, 0] > 0 > psi_10[3, 0]


def test_frequencies_are_u_major_and_low_pass():
    assert dct_frequencies(3) == [(u, v) for u in range(3) for v in range(3)]
    assert dct_frequencies(3, level=3) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)]
    assert dct_frequencies(3, level=2, dc=False) == [(0, 1), (1, 0)]


def test_truncated_bank_is_the_low_pass_subset_in_order():
    full = dct_filters(5, dtype=torch.float64)
    pairs = dct_frequencies(5)
    for level in range(1, 10):
        kept = [pairs.index(p) for p in dct_frequencies(5, level)]
        torch.testing.assert_close(dct_filters(5, level, dtype=torch.float64), full[kept])


@pytest.mark.parametrize(
    "level, expected", [(1, 1), (2, 3), (3, 6), (4, 8), (5, 9), (6, 9), (100, 9), (None, 9)]
)
def test_counts_for_3x3(level, expected):
    assert n_filters(3, level) == expected
    assert dct_filters(3, level).shape == (expected, 3, 3)
    if expected > 1:
        assert n_filters(3, level, dc=False) == expected - 1


@pytest.mark.parametrize("k", [1, 2, 4, 7])
def test_count_formula_matches_enumeration(k):
    for level in range(1, 2 * k + 2):
        r = max(2 * k - 1 - level, 0)
        expected = level * (level + 1) // 2 if level <= k else k * k - r * (r + 1) // 2
        assert n_filters(k, level) == expected == len(dct_frequencies(k, level))


def test_count_7x7_examples():
    assert [n_filters(7, lam) for lam in (1, 4, 7, 10, 13)] == [1, 10, 28, 43, 49]


def test_coefficients_invert_the_full_bank_and_project_a_truncated_one():
    torch.manual_seed(0)
    kernels = torch.randn(4, 5, 3, 3, dtype=torch.float64)
    full = dct_filters(3, norm="l1", dtype=torch.float64)
    coeffs = dct_coefficients(kernels, full)
    assert coeffs.shape == (4, 5, 9)
    torch.testing.assert_close(torch.einsum("abf,fxy->abxy", coeffs, full), kernels)
    low = dct_filters(3, level=2, norm="l1", dtype=torch.float64)
    approx = torch.einsum("abf,fxy->abxy", dct_coefficients(kernels, low), low)
    residual = (kernels - approx).reshape(-1, 9)
    # least squares: the residual is orthogonal to every kept filter
    torch.testing.assert_close(residual @ low.reshape(3, 9).T, torch.zeros(20, 3, dtype=torch.float64))
    assert residual.abs().max() > 0.1


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "3", None])
def test_bad_kernel_size(bad):
    with pytest.raises(ValueError, match="kernel_size"):
        dct_filters(bad)
    with pytest.raises(ValueError, match="kernel_size"):
        n_filters(bad)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_level(bad):
    with pytest.raises(ValueError, match="level"):
        dct_filters(3, level=bad)
    with pytest.raises(ValueError, match="level"):
        n_filters(3, bad)
    with pytest.raises(ValueError, match="level"):
        dct_frequencies(3, bad)


def test_bad_norm_and_empty_bank():
    with pytest.raises(ValueError, match="norm"):
        dct_filters(3, norm="l2")
    with pytest.raises(ValueError, match="level"):
        dct_filters(3, level=1, dc=False)
    with pytest.raises(ValueError, match="level"):
        n_filters(3, 1, dc=False)
    with pytest.raises(ValueError, match="kernels"):
        dct_coefficients(torch.zeros(2, 5, 5), dct_filters(3))


def test_spectral_maps_are_every_channel_convolved_with_every_filter():
    # eq. 1: channel c * n + f of the result is psi_f * x_c
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64)
    bank = dct_filters(3, 2).to(torch.float64)  # lambda = 2: 3 filters
    maps = spectral_maps(x, bank, 3, (1, 1), 1, (1, 1))
    assert maps.shape == (2, 3 * 3, 6, 7)
    for c in range(3):
        for f in range(3):
            expected = torch.nn.functional.conv2d(x[:, c : c + 1], bank[f].reshape(1, 1, 3, 3), padding=1)
            torch.testing.assert_close(maps[:, c * 3 + f : c * 3 + f + 1], expected)
