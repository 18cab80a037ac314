"""Records: key, reuse instead of retraining, atomic writes, safe weights."""
import dataclasses
import json
import pickle

import pytest
import torch

from wpcore import experiment, records
from wpcore.experiment import Experiment
from wpcore.safe import UnsafeFileError, load_safetensors


def tiny(**kw):
    base = {"dataset": "digits", "epochs": 1, "train_subset": 128, "test_subset": 100}
    return Experiment("wrn-10-1", **{**base, **kw})


def test_key_depends_on_what_is_trained_not_on_label():
    assert tiny().key() == tiny(label="x").key()
    assert tiny().key() != tiny(seed=1).key() != tiny(lr=0.05).key()
    assert tiny().key() != tiny(model_kw={"dropout": 0.3}).key()


def test_record_is_reused_not_retrained(monkeypatch):
    calls = []
    original = experiment.TASKS["classify"]
    monkeypatch.setitem(experiment.TASKS, "classify",
                        dataclasses.replace(original, fn=lambda e, c: calls.append(1) or original.fn(e, c)))
    first = experiment.run(tiny())
    second = experiment.run(tiny())
    assert len(calls) == 1
    assert first.key == second.key and second.final == json.loads(json.dumps(first.final))
    assert {"config", "code", "data", "device", "history", "wall_time_s", "created"} <= set(first.to_json())
    assert first.device["torch"] == torch.__version__ and first.config["model"] == "wrn-10-1"
    assert first.weights_path.exists()
    experiment.run(tiny(), force=True)
    assert len(calls) == 2


def test_record_weights_load_back_into_the_model():
    """The record holds the trained weights: loaded into a new model (fp32, so that the numbers
    agree to float tolerance) they give the recorded test loss, and the initial weights do not."""
    from wpcore import nets
    from wpcore.data import DeviceLoader
    from wpcore.tasks import setup
    from wpcore.train import classification_eval

    exp = tiny(precision="fp32")
    rec = experiment.run(exp)
    _, test = setup.splits(exp)
    evaluate = classification_eval(DeviceLoader(test, 500, False, "cpu", rec.data["mean"], rec.data["std"]))
    setup.seed_everything(exp.seed)  # the same initial weights as the run started from
    model = nets.create("wrn-10-1", in_channels=1)
    with torch.no_grad():
        initial = evaluate(model.eval())
        model.load_state_dict(records.load_weights(rec))
        loaded = evaluate(model.eval())
    assert loaded["test_loss"] == pytest.approx(rec.final["test_loss"], rel=1e-5)
    assert loaded["test_error"] == pytest.approx(rec.final["test_error"])
    assert initial["test_loss"] != pytest.approx(rec.final["test_loss"], rel=1e-5), (initial, rec.final)


def test_unreadable_record_counts_as_missing(tmp_path):
    rec = experiment.run(tiny())
    rec.path.write_text("{ half a record")
    assert records.find(rec.key) is None


def test_pickle_checkpoint_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("open('/tmp/pwned_by_wpcore_test', 'w').write('x')",))

    p = tmp_path / "evil.safetensors"
    p.write_bytes(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(UnsafeFileError, match="never unpickles"):
        load_safetensors(p)
    import os
    assert not os.path.exists("/tmp/pwned_by_wpcore_test")
    p.write_bytes(b"garbage that is not safetensors")
    with pytest.raises(UnsafeFileError, match="not a valid safetensors"):
        load_safetensors(p)


@pytest.mark.parametrize("kw,msg", [
    ({"epochs": -1}, "epochs"), ({"batch_size": 0}, "batch_size"), ({"train_subset": 0}, "train_subset"),
    ({"task": "dance"}, "unknown task"), ({"model_kw": {"dropout": 2}}, "dropout"),
])
def test_bad_experiments_are_rejected(kw, msg):
    with pytest.raises(ValueError, match=msg):
        tiny(**kw)


def test_safetensors_whose_header_length_starts_with_0x80_is_accepted(tmp_path):
    """Regression: a header length of 0x1c80 bytes begins with the byte 0x80, like a pickle."""
    import json as _json
    import struct

    header = _json.dumps({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    header += b" " * (0x1C80 - len(header))
    p = tmp_path / "w.safetensors"
    p.write_bytes(struct.pack("<Q", len(header)) + header + struct.pack("<f", 1.5))
    assert p.read_bytes()[0] == 0x80
    assert load_safetensors(p)["t"].item() == 1.5
