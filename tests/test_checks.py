"""Validation of run parameters (harmonic.experiments.checks): each error names the parameter."""

from __future__ import annotations

import pytest

from harmonic.experiments.checks import (check_choice, check_dropout, check_int, check_level, check_list,
                                         check_imagenet_args, check_milestones, check_number, parse_level)


@pytest.mark.parametrize("value, kwargs, match", [
    (0, {}, "epochs must be a positive integer, got 0"),
    (2.0, {}, "epochs must be a positive integer, got 2.0"),
    (True, {}, "epochs must be a positive integer, got True"),
    (-1, {"minimum": 0}, "epochs must be a non-negative integer, got -1"),
    (2, {"minimum": 3}, "epochs must be an integer >= 3, got 2"),
    ("3", {"optional": True}, "epochs must be a positive integer or None, got '3'"),
])
def test_check_int_rejects(value, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_int("epochs", value, **kwargs)


def test_check_int_accepts():
    check_int("epochs", 1)
    check_int("seed", 0, minimum=0)
    check_int("subset", None, optional=True)


@pytest.mark.parametrize("value, kwargs, match", [
    (0, {}, "lr must be a positive number, got 0"),
    (float("nan"), {}, "lr must be a positive number, got nan"),
    (False, {"strict": False}, "lr must be a number >= 0, got False"),
    (-0.5, {"strict": False}, "lr must be a number >= 0"),
    (1.0, {"minimum": 1.0}, "lr must be a number > 1, got 1.0"),
    ("x", {"optional": True}, "lr must be a positive number or None"),
])
def test_check_number_rejects(value, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_number("lr", value, **kwargs)


def test_check_number_accepts():
    check_number("lr", 1e-3)
    check_number("weight_decay", 0, strict=False)
    check_number("freq_scale_factor", None, optional=True)


@pytest.mark.parametrize("milestones, epochs, match", [
    ("60", 200, "milestones must be a list of epochs"),
    ([0, 5], 200, "milestones must be a positive integer"),
    ([60, 300], 200, r"within the run \(<= epochs=200\)"),
    ([120, 60], 200, "milestones must be increasing"),
    ([60, 60], 200, "milestones must be increasing"),
])
def test_check_milestones_rejects(milestones, epochs, match):
    with pytest.raises(ValueError, match=match):
        check_milestones(milestones, epochs)


def test_check_milestones_accepts():
    check_milestones((60, 120, 160), 200)
    check_milestones([500], None)  # no run length to compare with
    check_milestones([], 10)


def test_check_choice_and_list():
    check_choice("optimizer", "sgd", ("adam", "sgd"))
    with pytest.raises(ValueError, match=r"optimizer must be one of \['adam', 'sgd'\], got 'rms'"):
        check_choice("optimizer", "rms", ("adam", "sgd"))
    check_list("hidden_sizes", (4, 2), check_int, "positive integers")
    for bad in ("42", [4, 0], 4, [4.0]):
        with pytest.raises(ValueError, match="hidden_sizes must be a list of positive integers, got"):
            check_list("hidden_sizes", bad, check_int, "positive integers")


def test_check_dropout():
    check_dropout(0)
    check_dropout(0.5)
    for bad in (1, 1.5, -0.1, "0.2"):
        with pytest.raises(ValueError, match="dropout must be"):
            check_dropout(bad)


def test_check_level():
    stages = ("group1", "group2", "group3")
    for good in (None, 1, 5, (None, 3, 2), [1, 1, 1]):
        check_level(good, stages)
    for bad in (0, 6, True, 2.0, (None, 3), (None, 3, 2, 1), (None, 0, 2), "3"):
        with pytest.raises(ValueError, match=r"level must be None, an integer from 1 to 5 .* 3 such values"):
            check_level(bad, stages)
    check_level(9, stages, kernel_size=5)
    with pytest.raises(ValueError, match="from 1 to 9"):
        check_level(10, stages, kernel_size=5)


def test_parse_level():
    assert parse_level(None) is None and parse_level(["none"]) is None
    assert parse_level(["3"]) == 3
    assert parse_level(["none", "None", "3", "2"]) == (None, None, 3, 2)
    with pytest.raises(ValueError, match="1 value or 4"):
        parse_level(["3", "2"])
    with pytest.raises(ValueError, match="positive integer"):
        parse_level(["0"])
    with pytest.raises(ValueError, match="positive integer per token, got 'x'"):
        parse_level(["x"])


def test_check_imagenet_args(tmp_path):
    from harmonic.experiments.imagenet import build_parser

    def args(*extra):
        parsed = build_parser().parse_args(["--data", str(tmp_path), *extra])
        parsed.level = parse_level(parsed.level)
        return parsed

    check_imagenet_args(args())
    check_imagenet_args(args("--harmonic", "all", "--level", "none", "none", "3", "2"))
    for extra, match in [(("--epochs", "0"), "epochs must be a positive integer"),
                         (("--workers", "-1"), "workers must be a non-negative integer"),
                         (("--lr", "0"), "lr must be a positive number"),
                         (("--level", "3"), "level applies only with --harmonic all"),
                         (("--evaluate",), "evaluate and checkpoint go together"),
                         (("--run-name", "../x"), "run_name"),
                         (("--convert-from", str(tmp_path / "no.pt"), "--harmonic", "all"), "convert_from: no file at")]:
        with pytest.raises(ValueError, match=match):
            check_imagenet_args(args(*extra))
