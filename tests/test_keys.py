"""Record keys: what goes into them (pinned), normalised builder arguments, and runs that are
never recorded (nothing trained, or diverged)."""
import dataclasses

import pytest
import torch

from wpcore import experiment, records
from wpcore.experiment import Experiment
from wpcore.nets import registry

# The key's inputs, pinned. If this test fails because you changed what goes into a key (a new
# Experiment field, a change to make_key, data_identity or the config's canonical form), bump
# records.SCHEMA and update the values below: old records must not be reused by new code. (A new
# field changes every key by itself: ``eval_every`` did, under schema 2.)
GOLDEN_FIELDS = ["augment", "batch_size", "dataset", "epochs", "eval_every", "gamma", "image_size", "label_smoothing", "lr",
                 "max_steps", "milestones", "model", "model_kw", "nesterov", "options", "precision", "schedule",
                 "seed", "task", "test_subset", "train_subset", "warmup", "weight_decay"]
GOLDEN = {"schema": 2, "wrn-16-1 fashion-mnist 3 epochs seed 1": "86aaf70ae6f60331",
          "2ch stereo width 0.5": "4dfed1d4c7f14876"}


def test_the_key_inputs_are_pinned(monkeypatch):
    monkeypatch.delenv("WPCORE_PRECISION", raising=False)
    e = Experiment("wrn-16-1", dataset="fashion-mnist", epochs=3, seed=1, label="labels are not in the key")
    assert sorted(e.config()) == GOLDEN_FIELDS
    assert records.SCHEMA == GOLDEN["schema"]
    assert e.key() == GOLDEN["wrn-16-1 fashion-mnist 3 epochs seed 1"]
    assert Experiment("2ch", task="patches", dataset="stereo", epochs=1, model_kw={"width": 0.5}).key() \
        == GOLDEN["2ch stereo width 0.5"]


def test_builder_arguments_equal_to_the_defaults_are_one_key():
    """Keys used to depend on how an argument was spelled: {"block": "B(3,3)"} and {} were two runs."""
    assert Experiment("wrn-16-2", model_kw={"block": "B(3,3)"}).key() == Experiment("wrn-16-2").key()
    assert Experiment("wrn-16-2", model_kw={"dropout": 0.0}).model_kw == {}
    assert Experiment("wrn-16-2", model_kw={"dropout": 0.3}).key() != Experiment("wrn-16-2").key()
    def detector(widths):
        return Experiment("multipath", task="detect", dataset="fashion-scenes", model_kw={"widths": widths})
    assert detector([16, 32, 64]).key() == detector((16, 32, 64)).key()  # the record stores JSON
    assert detector((32, 64, 128)).model_kw == {}  # the builder's default, as a list or a tuple


def test_a_wrong_builder_argument_is_one_line_but_a_bug_inside_a_builder_is_not_hidden(monkeypatch):
    with pytest.raises(ValueError, match=r"wrn-16-2: .*'colour'.*this family takes"):
        Experiment("wrn-16-2", model_kw={"colour": "red"})

    def broken(depth, width, num_classes=10, in_channels=3):
        raise TypeError("a bug inside the builder")

    monkeypatch.setattr(registry, "_PATTERNS", [(registry.re.compile(r"broken-(\d+)-(\d+)\Z"), broken, "x")])
    with pytest.raises(TypeError, match="a bug inside the builder"):
        registry.create("broken-16-2")


def tiny(**kw):
    return Experiment("wrn-10-1", **{"dataset": "digits", "epochs": 1, "train_subset": 128, "test_subset": 100, **kw})


def test_zero_epochs_is_refused_for_a_task_that_trains():
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        tiny(epochs=0)
    Experiment("siam-l2", task="patch-sift", dataset="stereo", epochs=0)  # a baseline that fits nothing


def test_a_diverged_run_leaves_no_record():
    """``--lr 1e9`` diverged to a NaN test loss and was recorded."""
    with pytest.raises(RuntimeError, match=r"diverged: final .*nan.*no record was written"):
        experiment.run(tiny(lr=1e9, epochs=2))
    assert not any(records.runs_dir().glob("*.json"))
    assert not (records.runs_dir() / "checkpoints" / tiny(lr=1e9, epochs=2).key()).exists()


def test_load_model_rebuilds_any_recorded_network():
    rec = experiment.run(tiny())
    assert rec.model_args == {"num_classes": 10, "in_channels": 1}
    model = experiment.load_model(rec)
    x = torch.randn(2, 1, 8, 8)
    assert model(x).shape == (2, 10) and not model.training
    assert experiment.of_record(rec).key() == rec.key


def test_a_record_keeps_the_precision_it_used_and_the_content_of_its_data():
    rec = experiment.run(tiny())
    assert rec.precision in ("bf16", "fp32") and rec.config["precision"] == "auto"
    assert len(rec.data["content"]["train"]) == 16 and rec.data["content"]["train"] != rec.data["content"]["test"]
    other = experiment.run(dataclasses.replace(tiny(), train_subset=64))
    assert other.data["content"]["train"] != rec.data["content"]["train"]


def test_a_record_reused_in_another_role_is_found_under_the_name_that_asks_for_it():
    """MultiPath's 48-epoch Fast R-CNN records were made as the 24-epoch design's "(2x training)"
    runs; the 48-epoch design reuses them as its baseline, and grouping by their stored label left
    that baseline with one seed."""
    made = experiment.run(dataclasses.replace(tiny(), label="baseline (2x training)"))
    asked = dataclasses.replace(tiny(), label="baseline")
    assert experiment.run(asked).extra["label"] == "baseline"
    assert experiment.find(asked).extra["label"] == "baseline" and experiment.find(asked).key == made.key
    assert records.find(made.key).extra["label"] == "baseline (2x training)"  # the file is not rewritten
    assert experiment.find(dataclasses.replace(tiny(), label="")).extra["label"] == "baseline (2x training)"
    assert experiment.find(dataclasses.replace(tiny(), epochs=5)) is None
