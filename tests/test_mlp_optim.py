import copy
import io
import math
import warnings

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from harmonic.mlp import FrequencyAwareOptimizer, HarmonicMLP, frequency_grad_scale, scale_frequency_gradients


def tiny_mlp(**kwargs) -> HarmonicMLP:
    """6 -> 4 (f = 1, 2, 3, 4) -> 3 (f = 1, 2, 2) -> 2."""
    args = dict(in_features=6, hidden_sizes=(4, 3), max_freqs=(10.0, 2.0), num_classes=2, dropout=0.0)
    return HarmonicMLP(**(args | kwargs))


# --------------------------------------------------------------------------- optimizer
def backward_once(model: nn.Module, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 6, generator=g)
    y = torch.randint(0, 2, (8,), generator=g)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return loss.detach()


def test_grad_scale_by_hand():
    assert torch.allclose(frequency_grad_scale(torch.tensor([1.0, 2.0, 5.0])),
                          torch.tensor([1 / 1.1, 1 / 1.2, 1 / 1.5]))


def test_sgd_update_is_gradient_over_one_plus_c_f():
    torch.manual_seed(0)
    model = tiny_mlp()
    opt = FrequencyAwareOptimizer(torch.optim.SGD(model.parameters(), lr=1.0), model, freq_scale_factor=0.1)
    backward_once(model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    opt.step()
    scales = {
        "feature_layers.0": torch.tensor([1 / 1.1, 1 / 1.2, 1 / 1.3, 1 / 1.4]),  # f = 1, 2, 3, 4
        "feature_layers.3": torch.tensor([1 / 1.1, 1 / 1.2, 1 / 1.2]),  # f = 1, 2, 2
    }
    for name, p in model.named_parameters():
        layer, _, kind = name.rpartition(".linear.")
        scale = scales[layer] if layer in scales else torch.tensor(1.0)  # BN, classifier: untouched
        if kind == "weight":
            scale = scale[:, None]
        assert torch.allclose(before[name] - p.detach(), grads[name] * scale, atol=1e-7), name
        assert torch.allclose(p.grad, grads[name] * scale, atol=1e-7), name


def test_zero_freq_scale_factor_is_the_plain_optimizer():
    torch.manual_seed(0)
    a = tiny_mlp()
    b = copy.deepcopy(a)
    opt_a = FrequencyAwareOptimizer(torch.optim.SGD(a.parameters(), lr=0.5), a, freq_scale_factor=0.0)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.5)
    for opt, model in ((opt_a, a), (opt_b, b)):
        backward_once(model)
        opt.step()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_uses_current_learnable_frequencies():
    model = tiny_mlp(freq_scheme="learnable")
    with torch.no_grad():
        model.feature_layers[0].log_frequencies.fill_(math.log(5.0))
    backward_once(model)
    raw = model.feature_layers[0].linear.bias.grad.clone()
    raw_log_f = model.feature_layers[0].log_frequencies.grad.clone()
    scale_frequency_gradients(model, 0.1)
    assert torch.allclose(model.feature_layers[0].linear.bias.grad, raw / 1.5)
    assert torch.equal(model.feature_layers[0].log_frequencies.grad, raw_log_f)


def test_returns_the_optimizer_it_was_given():
    model = tiny_mlp()
    adam = torch.optim.Adam(model.parameters(), lr=0.01)
    assert FrequencyAwareOptimizer(adam, model) is adam


def test_zero_grad():
    model = tiny_mlp()
    opt = FrequencyAwareOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), model)
    backward_once(model)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    opt.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in model.parameters())


def test_closure_is_called_then_gradients_scaled_then_step():
    torch.manual_seed(0)
    a = tiny_mlp()
    b = copy.deepcopy(a)
    opt_a = FrequencyAwareOptimizer(torch.optim.SGD(a.parameters(), lr=0.3), a)
    opt_b = FrequencyAwareOptimizer(torch.optim.SGD(b.parameters(), lr=0.3), b)
    calls = []

    def closure():
        calls.append(1)
        opt_a.zero_grad()
        return backward_once(a)

    loss = opt_a.step(closure)
    expected_loss = backward_once(b)
    opt_b.step()
    assert len(calls) == 1 and torch.equal(loss, expected_loss)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_state_dict_round_trip_continues_identically():
    torch.manual_seed(0)
    model = tiny_mlp()
    adam = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-5)
    opt = FrequencyAwareOptimizer(adam, model, freq_scale_factor=0.1)
    for seed in range(3):
        opt.zero_grad()
        backward_once(model, seed)
        opt.step()
    buffer = io.BytesIO()  # a checkpoint on disk: no tensors shared with the live optimizer
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    saved = torch.load(buffer)
    assert saved["freq_scale_factor"] == 0.1 and len(saved["state"]) == len(list(model.parameters()))

    clone = copy.deepcopy(model)
    other_adam = torch.optim.Adam(clone.parameters(), lr=0.5)
    restored = FrequencyAwareOptimizer(other_adam, clone, freq_scale_factor=0.7)
    restored.load_state_dict(saved)
    assert restored.state_dict()["freq_scale_factor"] == 0.1 and restored.param_groups[0]["lr"] == 0.01
    for seed in range(3, 5):
        for o, m in ((opt, model), (restored, clone)):
            o.zero_grad()
            backward_once(m, seed)
            o.step()
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), clone.parameters()))


def test_load_state_dict_rejects_negative_factor():
    model = tiny_mlp()
    opt = FrequencyAwareOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), model)
    bad = opt.state_dict() | {"freq_scale_factor": -1.0}
    with pytest.raises(ValueError, match="freq_scale_factor must be a finite number >= 0"):
        opt.load_state_dict(bad)


def test_step_lr_changes_the_wrapped_learning_rate_without_order_warning():
    model = tiny_mlp()
    sgd = torch.optim.SGD(model.parameters(), lr=1.0)
    opt = FrequencyAwareOptimizer(sgd, model)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        for _ in range(4):
            backward_once(model)
            opt.step()
            scheduler.step()
            lrs.append(sgd.param_groups[0]["lr"])
    assert lrs == [1.0, 0.5, 0.5, 0.25]


def test_reduce_lr_on_plateau_after_patience_2():
    model = tiny_mlp()
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    opt = FrequencyAwareOptimizer(adam, model)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, "min", patience=2)
    lrs = []
    for train_loss in [1.0, 1.0, 1.0, 1.0, 1.0]:  # best, then 1, 2, 3 (> patience), ... bad epochs
        backward_once(model)
        opt.step()
        scheduler.step(train_loss)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[:3] == [1e-3] * 3
    assert lrs[3] == pytest.approx(1e-4)


def test_hooks_registered_later_see_scaled_gradients():
    torch.manual_seed(0)
    model = tiny_mlp()
    opt = FrequencyAwareOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), model)
    backward_once(model)
    raw = model.feature_layers[0].linear.bias.grad.clone()
    seen = []
    opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(model.feature_layers[0].linear.bias.grad.clone()))
    opt.step()
    assert len(seen) == 1 and torch.allclose(seen[0], raw / torch.tensor([1.1, 1.2, 1.3, 1.4]))


@pytest.mark.parametrize("factor", [-0.1, math.nan, "0.1"])
def test_bad_freq_scale_factor(factor):
    model = tiny_mlp()
    with pytest.raises(ValueError, match="freq_scale_factor must be a finite number >= 0"):
        FrequencyAwareOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), model, freq_scale_factor=factor)


def test_wrapping_something_else_is_a_type_error():
    model = tiny_mlp()
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        FrequencyAwareOptimizer(model.parameters(), model)
