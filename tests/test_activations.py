import math

import pytest
import torch

from harmonic.mlp.activations import (
    ACTIVATIONS,
    angular_frequency,
    harmonic_activation,
    sine_activation,
    siren_activation,
    snake_activation,
)

PI = math.pi
# (z, f) pairs where sin(2 pi z / f) is +-1 or 0
Z = torch.tensor([[0.25, 0.5, 1.0, -0.25, 1.0]])
F = torch.tensor([1.0, 2.0, 4.0, 1.0, 1.0])


def test_angular_frequency():
    assert torch.allclose(angular_frequency(torch.tensor([1.0, 2.0, 4.0])),
                          torch.tensor([2 * PI, PI, PI / 2]))


def test_harmonic_by_hand():
    y = harmonic_activation(Z, angular_frequency(F))
    # sin(pi/2) + 0.1 z ... ; last: sin(2 pi) + 0.1
    expected = torch.tensor([[1.025, 1.05, 1.1, -1.025, 0.1]])
    assert torch.allclose(y, expected, atol=1e-6)


def test_harmonic_residual_scale():
    y = harmonic_activation(torch.tensor([[0.25, 2.0]]), angular_frequency(torch.tensor([1.0, 8.0])), 0.5)
    assert torch.allclose(y, torch.tensor([[1.0 + 0.125, 1.0 + 1.0]]), atol=1e-6)


def test_sine_by_hand():
    y = sine_activation(Z, angular_frequency(F))
    assert torch.allclose(y, torch.tensor([[1.0, 1.0, 1.0, -1.0, 0.0]]), atol=1e-6)


def test_siren_by_hand_default_omega0_30():
    z = torch.tensor([[PI / 60, PI / 30, -PI / 60]])
    assert torch.allclose(siren_activation(z), torch.tensor([[1.0, 0.0, -1.0]]), atol=1e-6)
    assert torch.allclose(siren_activation(z, omega0=15.0), torch.tensor([[PI / 4, PI / 2, -PI / 4]]).sin(),
                          atol=1e-6)


def test_snake_by_hand_alpha_is_omega():
    z = torch.tensor([[0.125, 0.25, 0.0, 0.5]])
    alpha = angular_frequency(torch.tensor([1.0, 1.0, 1.0, 2.0]))  # 2pi, 2pi, 2pi, pi
    # z + sin^2(alpha z) / alpha
    expected = torch.tensor([[0.125 + 0.5 / (2 * PI), 0.25 + 1 / (2 * PI), 0.0, 0.5 + 1 / PI]])
    assert torch.allclose(snake_activation(z, alpha), expected, atol=1e-6)


def test_harmonic_matches_composite_formula_on_random_input():
    torch.manual_seed(0)
    z = torch.randn(64, 32, dtype=torch.float64) * 3
    f = torch.rand(32, dtype=torch.float64) * 4 + 1
    expected = torch.sin(2 * PI * z / f) + 0.1 * z
    assert torch.allclose(harmonic_activation(z, angular_frequency(f)), expected, atol=1e-12)
    assert torch.allclose(sine_activation(z, angular_frequency(f)), torch.sin(2 * PI * z / f), atol=1e-12)


def test_harmonic_gradient_by_hand():
    # d/dz [sin(w z) + 0.1 z] = w cos(w z) + 0.1
    z = torch.tensor([[0.25, 0.0, 0.5]], dtype=torch.float64, requires_grad=True)
    omega = angular_frequency(torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64))
    harmonic_activation(z, omega).sum().backward()
    expected = torch.tensor([[0.1, PI + 0.1, -2 * PI + 0.1]], dtype=torch.float64)
    assert torch.allclose(z.grad, expected, atol=1e-12)


@pytest.mark.parametrize("fn", [harmonic_activation, sine_activation])
def test_custom_backward_passes_gradcheck_including_double_backward(fn):
    torch.manual_seed(0)
    z = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    omega = (torch.rand(4, dtype=torch.float64) + 0.5).requires_grad_()
    assert torch.autograd.gradcheck(fn, (z, omega))
    assert torch.autograd.gradgradcheck(fn, (z, omega))
    assert torch.autograd.gradcheck(fn, (z, omega.detach()))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_each_name_selects_its_own_formula_in_the_layer(name):
    """A HarmonicLayer built with ``activation=name`` applies that formula and no other."""
    from harmonic.mlp import HarmonicLayer

    layer = HarmonicLayer(3, 4, base_freq=1.0, max_freq=4.0, activation=name)
    z = torch.linspace(-2.0, 2.0, 8).reshape(2, 4)
    omega = 2 * math.pi / layer.frequencies
    formulas = {
        "harmonic": lambda: torch.sin(omega * z) + 0.1 * z,
        "sine": lambda: torch.sin(omega * z),
        "siren": lambda: torch.sin(layer.omega0 * z),
        "snake": lambda: z + torch.sin(omega * z) ** 2 / omega,
    }
    assert set(formulas) == set(ACTIVATIONS)
    got = layer.activate(z)
    for other, formula in formulas.items():
        assert torch.allclose(got, formula(), atol=1e-6) == (other == name), other
