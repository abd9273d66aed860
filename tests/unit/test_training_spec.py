"""A training spec checks its own settings, once, when it is made."""

import math

import pytest

from domain.errors import InvalidSetting
from domain.training import InvalidSpec, TrainingSpec


@pytest.mark.parametrize("setting, refused, accepted", [
    ("epochs", -1, 0), ("lr", 0.0, 1e-6), ("batch_size", 0, 1), ("l2", -0.1, 0.0),
    ("negatives", 1025, 1024), ("negatives", 0, 1), ("ema_decay", 1.0, 0.999), ("patience", 0, 1),
    ("validate_every", 0, 1), ("seed", 2**32, 2**32 - 1), ("seed", -1, 0), ("alpha", 1.01, 1.0),
    ("members", 0, 1), ("checkpoint_every", -1, 0), ("validation_share", 0.5, 0.49),
    ("test_share", 0.0, 0.01), ("lr", math.nan, 0.01), ("alpha", math.nan, 0.5),
])
def test_each_setting_is_refused_past_its_bound_and_named(setting, refused, accepted):
    assert getattr(TrainingSpec(**{setting: accepted}), setting) == accepted
    with pytest.raises(InvalidSpec) as raised:
        TrainingSpec(**{setting: refused})
    assert raised.value.setting == setting and repr(refused) in str(raised.value)


@pytest.mark.parametrize("setting, value", [("model", "gat-huge"), ("trainer", "fast"), ("device", "tpu")])
def test_unknown_choices_are_refused_with_the_choices(setting, value):
    with pytest.raises(InvalidSetting, match="choose one of"):
        TrainingSpec(**{setting: value})


def test_several_members_are_for_the_gat_models_only():
    assert TrainingSpec(model="gat-basic", members=3).members == 3
    with pytest.raises(InvalidSpec, match="popularity has nothing to average"):
        TrainingSpec(model="popularity", members=2)
