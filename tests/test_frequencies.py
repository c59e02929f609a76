import math

import pytest
import torch

from harmonic.mlp.frequencies import FREQ_SCHEMES, neuron_frequencies, shared_periods


def test_seed_first_layer_512_neurons_capped_at_5():
    f = neuron_frequencies(512, base_freq=1.0, max_freq=5.0)
    assert f.shape == (512,) and f.dtype == torch.float32
    assert f[:5].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert int((f == 5.0).sum()) == 508  # neurons 4..511
    assert int((f < 5.0).sum()) == 4


def test_seed_second_layer_256_neurons_capped_at_3():
    f = neuron_frequencies(256, base_freq=1.0, max_freq=3.0)
    assert f[:3].tolist() == [1.0, 2.0, 3.0]
    assert int((f == 3.0).sum()) == 254


def test_capped_with_fractional_base():
    f = neuron_frequencies(6, base_freq=0.5, max_freq=2.0, scheme="capped")
    assert f.tolist() == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]


def test_harmonic_is_uncapped():
    f = neuron_frequencies(6, base_freq=0.5, max_freq=1.0, scheme="harmonic")
    assert f.tolist() == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_linear_spacing():
    assert neuron_frequencies(5, 1.0, 5.0, "linear").tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert neuron_frequencies(3, 2.0, 3.0, "linear").tolist() == [2.0, 2.5, 3.0]
    assert neuron_frequencies(1, 2.0, 3.0, "linear").tolist() == [2.0]


def test_log_spacing_is_geometric_with_exact_end_points():
    f = neuron_frequencies(3, 1.0, 100.0, "log")
    assert f[0].item() == 1.0 and f[-1].item() == 100.0
    assert f[1].item() == pytest.approx(10.0, rel=1e-6)
    g = neuron_frequencies(5, 2.0, 32.0, "log")
    assert torch.allclose(g[1:] / g[:-1], torch.full((4,), 2.0), rtol=1e-6)
    assert neuron_frequencies(1, 2.0, 3.0, "log").tolist() == [2.0]


def test_random_is_bounded_and_follows_the_torch_seed():
    torch.manual_seed(3)
    a = neuron_frequencies(200, 1.5, 4.0, "random")
    torch.manual_seed(3)
    b = neuron_frequencies(200, 1.5, 4.0, "random")
    torch.manual_seed(4)
    c = neuron_frequencies(200, 1.5, 4.0, "random")
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 1.5 and a.max() <= 4.0
    assert a.std() > 0.5  # spread over the interval, not a constant (U[1.5, 4] has std 0.72)
    gen = torch.Generator().manual_seed(0)
    d = neuron_frequencies(10, 1.0, 2.0, "random", generator=gen)
    gen.manual_seed(0)
    assert torch.equal(d, neuron_frequencies(10, 1.0, 2.0, "random", generator=gen))


def test_learnable_starts_at_capped_values():
    assert torch.equal(
        neuron_frequencies(7, 1.0, 4.0, "learnable"), neuron_frequencies(7, 1.0, 4.0, "capped")
    )


def test_unknown_scheme_lists_accepted_names():
    with pytest.raises(ValueError, match="freq_scheme") as info:
        neuron_frequencies(4, 1.0, 2.0, "cubic")
    for name in FREQ_SCHEMES:
        assert name in str(info.value)


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        (dict(n=0), "n"),
        (dict(n=2.0), "n"),
        (dict(base_freq=0.0), "base_freq"),
        (dict(base_freq=-1.0), "base_freq"),
        (dict(base_freq=math.nan), "base_freq"),
        (dict(base_freq=2.0, max_freq=1.0), "max_freq"),
        (dict(max_freq=math.inf), "max_freq"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, parameter):
    args = dict(n=4, base_freq=1.0, max_freq=3.0) | kwargs
    with pytest.raises(ValueError, match=rf"^{parameter} must"):
        neuron_frequencies(**args)


def test_shared_periods_counts_the_neurons_at_the_cap():
    periods = shared_periods([512, 256], [5.0, 3.0]).set_index("layer")
    assert periods["neurons at the largest f"].tolist() == [508, 254]
    assert shared_periods([8], [100.0], scheme="harmonic")["neurons at the largest f"].tolist() == [1]
