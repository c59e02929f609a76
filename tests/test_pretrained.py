"""The authors' released-checkpoint layout (harm1 / harm2 / dct, DataParallel prefix) loads strictly."""

import pytest
import torch

from harmonic import pretrained
from harmonic.models import resnet50, resnet101


def _to_official(state: dict, keep_dct: bool = True) -> dict:
    """Our state_dict written in the authors' layout, from the format's description (module docstring)."""
    out = {}
    for key, value in state.items():
        if key.startswith("conv1."):
            rest = key[len("conv1."):]
            if rest == "weight":
                out["harm1.weight"] = value.reshape(value.shape[0], -1, 1, 1)  # channel c * n + f
            elif rest == "filters":
                if keep_dct:
                    out["harm1.dct"] = value.unsqueeze(1).repeat(3, 1, 1, 1)  # (3n, 1, 7, 7), one copy per channel
            else:
                out[f"harm1.{rest}"] = value
        elif ".conv2." in key and key.startswith("layer"):
            prefix, rest = key.split(".conv2.")
            if rest == "weight":
                out[f"{prefix}.harm2.weight"] = value[..., None, None]
            elif rest == "filters":
                if keep_dct:
                    out[f"{prefix}.harm2.dct"] = value.unsqueeze(0)
            else:
                out[f"{prefix}.harm2.{rest}"] = value
        else:
            out[key] = value
    return {f"module.{key}": value for key, value in out.items()}


def _randomised(model):
    torch.manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("level, keep_dct", [((None, None, None, None), True), ((None, None, 3, 2), False)])
def test_official_resnet50_loads_strictly_with_identical_logits(level, keep_dct):
    source = _randomised(resnet50(harmonic="all", level=list(level)))
    official = _to_official(source.state_dict(), keep_dct=keep_dct)
    assert "module.harm1.weight" in official and official["module.harm1.weight"].shape == (64, 147, 1, 1)
    assert pretrained.official_levels(official) == level
    converted = pretrained.from_official(official)
    target = resnet50(harmonic="all", level=list(level))
    target.load_state_dict(converted, strict=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(target.eval()(x), source(x))


def test_weights_argument_takes_an_official_file(tmp_path):
    source = _randomised(resnet101(harmonic="all", num_classes=10))
    path = tmp_path / "harm_resnet101.pth"
    torch.save(_to_official(source.state_dict()), path)
    loaded = resnet101(harmonic="all", num_classes=10, weights=path).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), source(x))
    with pytest.raises(ValueError, match=r"levels per stage are \(None, None, None, None\)"):
        resnet101(harmonic="all", num_classes=10, level=[None, None, 3, 2], weights=path)


def test_wrong_dct_bank_and_unreadable_files_are_errors(tmp_path):
    official = _to_official(resnet50(harmonic="all").state_dict())
    official["module.layer1.0.harm2.dct"] = official["module.layer1.0.harm2.dct"] * 2  # not L1-normalised
    with pytest.raises(ValueError, match="layer1.0.harm2.dct"):
        pretrained.from_official(official)
    with pytest.raises(ValueError, match="not the authors' harmonic layout"):
        pretrained.from_official({"conv1.weight": torch.zeros(1)})
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="broken.pth could not be read"):
        resnet50(harmonic="all", weights=bad)
    with pytest.raises(ValueError, match="no file"):
        resnet50(weights=tmp_path / "missing.pth")


def test_weights_from_a_damaged_checkpoint_or_of_another_network_name_the_file(tmp_path):
    import torch

    from harmonic.experiments.checkpoints import save_checkpoint
    from harmonic.models import resnet50
    from harmonic.pretrained import load_weights

    path = tmp_path / "model.pt"
    save_checkpoint(path, {"fc.weight": torch.zeros(2, 3)})
    assert load_weights(path)["fc.weight"].shape == (2, 3)  # intact: loads, its digest checked
    state = torch.load(path, weights_only=True)
    state["fc.weight"][0, 0] = 1.0  # one value changed after saving
    torch.save(state, path)
    with pytest.raises(ValueError, match=rf"weights: {path} is damaged"):
        load_weights(path)
    save_checkpoint(path, {"fc.weight": torch.zeros(2, 3)})
    with pytest.raises(ValueError, match=rf"weights {path} do not fit resnet50"):
        resnet50(num_classes=2, weights=path)
