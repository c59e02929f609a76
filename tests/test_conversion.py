"""Conversion of trained plain networks (the paper's Section 5.2): exact with the full basis, the paper's
stem without spectral BN, and the recorded small-scale "converted + finetuned" protocol."""

import pytest
import torch

from harmonic.conversion import RESNET50_CONVERSIONS, conversion_report, convert, run_conversion
from harmonic.models import resnet50, wrn
from harmonic.utils import count_parameters
from harmonic.experiments.wrn import run_wrn


@pytest.mark.parametrize("norm", ["l1", "ortho"])
def test_full_basis_conversion_of_no_maxpool_resnet50_is_exact_with_equal_parameters(norm):
    torch.manual_seed(0)
    model = resnet50(maxpool=False).eval()
    converted = convert(model, None, norm=norm).eval()
    assert count_parameters(converted) == count_parameters(model) == 25_557_032
    assert not converted.conv1.spectral_bn  # the paper skips BN in the first harmonic layer
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(converted(x), model(x), rtol=1e-4, atol=1e-5)
    report = conversion_report(model, x, variants=RESNET50_CONVERSIONS, norm=norm).set_index("variant")
    assert report.loc["full basis", "relative error"] < 1e-5
    assert report.loc["progressive λ (layer3: 3, layer4: 2)", "parameters"] == 19_658_792


def test_run_conversion_records_exactness_before_and_after_finetuning(tmp_path, mnist_root):
    root = str(mnist_root)
    run_wrn(results_dir=tmp_path, run_name="plain", data_root=root, dataset="fashion-mnist", depth=10, widen_factor=1,
            harmonic=None, epochs=1, subset=256, test_subset=200, milestones=[], progress=False, device="cpu",
            save_model=True)
    run = run_conversion(tmp_path, "conversion", "plain", finetune_epochs=1, subset=256, test_subset=200, data_root=root)
    metrics = run.metrics.set_index(["variant", "epoch"])
    full = metrics.loc[("full basis", 0)]
    assert full["identical_predictions"] == 200 and full["max_abs_logit_diff"] < 1e-4
    plain = metrics.loc[("plain (control)", 0)]
    assert full["test_acc"] == plain["test_acc"]
    progressive = metrics.loc[("progressive λ (layer2: 3, layer3: 2)", 0)]
    assert progressive["parameters"] < plain["parameters"]
    assert set(run.metrics["epoch"]) == {0, 1}
    assert (tmp_path / "conversion" / "metrics.csv").exists()
    run_wrn(results_dir=tmp_path, run_name="harm", data_root=root, dataset="fashion-mnist", depth=10,
            widen_factor=1, harmonic="all", epochs=1, subset=64, test_subset=64, milestones=[], progress=False,
            device="cpu", save_model=True)
    with pytest.raises(ValueError, match="harmonic network"):
        run_conversion(tmp_path, "conversion-2", "harm", data_root=root)
    with pytest.raises(ValueError, match=r"no-such-run.*is missing \(record the plain run with save_model=True"):
        run_conversion(tmp_path, "conversion-3", "no-such-run")
