"""The `full` profile's own pieces that do not need a GPU: the WRN page's limits text, the ImageNet
experiments of three studies and their official recipe."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cell(chapter: str, needle: str) -> str:
    import jupytext

    nb = jupytext.read(ROOT / "chapters" / f"{chapter}.py")
    cells = [c.source for c in nb.cells if c.cell_type == "code" and needle in c.source]
    assert len(cells) == 1, f"expected one cell with {needle!r} in {chapter}"
    return cells[0]


def test_wrn_verdict_cell_formats_at_full():
    """Issue 16: the WRN page raised KeyError('train_subset') after all its training at full."""
    from wpcore.studies import wide_resnets as study

    shown = {}

    class Present:
        @staticmethod
        def show_verdicts(claims, profile, limits):
            shown.update(claims=claims, profile=profile, limits=limits)

        from wpcore.present import training_state

    ns = {"study": study, "profile": "full", "records": [], "main_ds": study.COMMON["full"]["dataset"],
          "present": Present, "convergence": None}
    exec(compile(_cell("wide_resnets", "show_verdicts"), "wide_resnets-verdict-cell", "exec"), ns)  # noqa: S102
    assert shown["profile"] == "full" and "all cifar-10 images" in shown["limits"]


IMAGENET = {"wide_resnets": {"wrn-50-2"}, "diracnets": {"diracnet-18", "diracnet-34", "resnet-18", "resnet-34"},
            "attention": {"resnet-18", "resnet-34"}}


@pytest.mark.parametrize("chapter", sorted(IMAGENET))
def test_imagenet_runs_are_in_full_only_with_the_official_recipe(chapter):
    import importlib

    study = importlib.import_module(f"wpcore.studies.{chapter}")
    full = [e for e in study.experiments("full") if e.dataset == "imagenet"]
    assert {e.model for e in full} == IMAGENET[chapter]
    for e in full:  # thesis.md §3.4/§4.2/§5.3: batch 256, 100 epochs, lr 0.1 x0.1 at 30/60/90, wd 1e-4
        assert (e.task, e.batch_size, e.epochs, e.lr, e.weight_decay, e.gamma) == ("imagenet", 256, 100, 0.1, 1e-4, 0.1)
        assert e.milestones == (0.3, 0.6, 0.9) and e.nesterov is False
    for profile in ("smoke", "quick"):
        assert not [e for e in study.experiments(profile) if e.dataset == "imagenet"]


def test_attention_imagenet_student_learns_from_the_resnet34_record():
    from wpcore.studies import attention

    full = [e for e in attention.experiments("full") if e.dataset == "imagenet"]
    teacher = next(e for e in full if e.model == "resnet-34")
    at = [e for e in full if e.options.get("method") == "at"]
    assert len(at) == 1 and at[0].options["teacher"] == teacher.config()
    assert full.index(teacher) < full.index(at[0])


def test_the_plain_imagenet_resnet18_is_one_run_for_two_chapters():
    """The attention chapter's student alone is the DiracNets chapter's ResNet-18: same key."""
    from wpcore.studies import attention, diracnets

    def plain18(study):
        return {e.key() for e in study.experiments("full")
                if e.dataset == "imagenet" and e.model == "resnet-18" and not e.options.get("teacher")}

    assert len(plain18(attention)) == 1 and plain18(attention) == plain18(diracnets)
