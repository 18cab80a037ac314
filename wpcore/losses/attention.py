"""Attention transfer and knowledge distillation (thesis ch. 4; Zagoruyko & Komodakis, ICLR 2017).

Activation-based attention. A group output A (N, C, H, W) becomes a spatial map (N, H, W):

    F_sum(A)   = sum_c |A_c|          F_sum^p(A) = sum_c |A_c|^p          F_max^p(A) = max_c |A_c|^p

The AT loss compares L2-normalised maps Q = vec(F(A)) / ||vec(F(A))|| of matching teacher and
student groups. As in the official code (cifar.py, utils.py): the map is mean_c(A^p) (a mean
instead of a sum, which the normalisation cancels), each pair's loss is the squared difference
*averaged* over batch x H*W, the pairs' losses are summed and multiplied by beta = 1e3. (The paper
writes beta/2 and a norm; beta = 1e3 with the average is the paper's "1e3 divided by the number
of elements in the attention map and the batch size".)

Knowledge distillation (Hinton et al.), T = 4, alpha = 0.9:

    L = alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)

KL reduction, two forms from the official history of ``distillation`` (attention-transfer utils.py):

- ``"legacy"``, the code behind the paper's numbers (from the first commit a28b02e, 2017-01-20,
  cifar.py line 177, to utils.py lines 13-15 at 79fd943 and unchanged until July 2018): ``kl_div(log_softmax(s/T), softmax(t/T)) * (T*T * 2. * alpha)`` with
  ``kl_div``'s old default, the mean over batch x classes: alpha * T^2 * 2 * sum / (N * C).
- ``"batchmean"``, since the "fix KL" commit 4133ac5 (2018-07-11; utils.py lines 10-15):
  ``kl_div(..., size_average=False) * T**2 / N`` times alpha, the true per-sample KL:
  alpha * T^2 * sum / N.

So the legacy KD term is C/2 times smaller (5x on CIFAR-10); the cross-entropy term is the same.
``kd_loss`` defaults to ``batchmean``; the study (wpcore/studies/attention.py) sets ``legacy`` for
the runs it compares with the thesis's KD and AT+KD numbers.

Full-activation transfer (F-ActT), the thesis's FitNets-style baseline (Romero et al., 2015). The
thesis gives no formula and the official code has none, so this one is ours: at every pair of group
outputs AT pairs (``match_groups``), a learned 1x1 convolution r_j without bias (FitNets'
regressor) maps the student's C_S channels to the teacher's C_T, and

    L = CE + beta_F/2 * sum_j mean_{N,C_T,H,W} (r_j(A_S^j) - A_T^j)^2

trained with the student from the first step (one stage, as AT; FitNets first trains the hint
alone). The regressors are dropped after training. beta_F = 1 (``FACT_BETA``); not tuned.

Gradient-based attention transfer (the official code never released it). With J = dL/dx the
gradient of a network's per-sample loss with respect to its input (N, C, H, W),

    L = CE_S + beta/2 * mean_n ||J_S - J_T||^2

Training through J_S needs double backprop (``create_graph=True``). We use the squared L2 norm per
image, averaged over the batch (the paper writes ||.||_2). The flip-invariance variant needs no
teacher: a network with f(x) = f(flip(x)) has J(x) = flip(J(flip(x))), so we penalise
mean_n ||J(x) - flip(J(flip(x)))||^2.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

BETA = 1e3          # AT weight of the official code
TEMPERATURE = 4.0   # KD temperature of the paper
ALPHA = 0.9         # KD weight of the soft targets


# --- attention maps -------------------------------------------------------------------------

def f_sum(a: torch.Tensor) -> torch.Tensor:
    """F_sum: (N, C, H, W) -> (N, H, W), sum of absolute values over channels."""
    return a.abs().sum(1)


def f_sum_p(a: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """F_sum^p: (N, C, H, W) -> (N, H, W), sum over channels of |A_c|^p."""
    return a.abs().pow(p).sum(1)


def f_max_p(a: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """F_max^p: (N, C, H, W) -> (N, H, W), max over channels of |A_c|^p."""
    return a.abs().pow(p).amax(1)


MAPS: dict[str, Callable[..., torch.Tensor]] = {"sum": f_sum, "sum_p": f_sum_p, "max_p": f_max_p}


def _wide(t: torch.Tensor) -> torch.Tensor:
    """Half-precision activations or logits (bf16 autocast) in float32; float64 kept."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def at(a: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Normalised attention vector: (N, C, H, W) -> (N, H*W), rows of unit L2 norm.

    ``normalize(mean_c(|A|^p))`` as the official ``at`` (which squares A; the same for p = 2).
    """
    return F.normalize(_wide(a).abs().pow(p).mean(1).flatten(1), dim=1)


def at_loss(student: torch.Tensor, teacher: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """AT loss of one pair: (N, Cs, H, W), (N, Ct, H, W) -> scalar, mean over N*H*W of the
    squared difference of the normalised maps. Channel counts may differ; H, W must match."""
    if student.shape[-2:] != teacher.shape[-2:]:
        raise ValueError(f"attention maps need equal spatial sizes, got {tuple(student.shape[-2:])} "
                         f"(student) and {tuple(teacher.shape[-2:])} (teacher); see match_groups")
    return (at(student, p) - at(teacher, p)).pow(2).mean()


def match_groups(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> list[tuple[int, int]]:
    """Pairs (i_student, j_teacher) of group outputs with the same spatial size.

    For each spatial size present in both lists, the *last* group of that size on each side
    (WRN-16-k and WRN-40-k both give three groups at H, H/2, H/4, so this is (0,0), (1,1), (2,2)).
    """
    def last_by_size(groups):
        return {tuple(g.shape[-2:]): i for i, g in enumerate(groups)}

    s, t = last_by_size(student), last_by_size(teacher)
    return sorted((s[size], t[size]) for size in s.keys() & t.keys())


def at_total(student: list[torch.Tensor], teacher: list[torch.Tensor], beta: float = BETA,
             p: float = 2.0) -> torch.Tensor:
    """beta * sum of at_loss over the matching groups (lists of (N, C_i, H_i, W_i)) -> scalar."""
    pairs = match_groups(student, teacher)
    if not pairs:
        raise ValueError("no student and teacher groups share a spatial size")
    return beta * sum(at_loss(student[i], teacher[j], p) for i, j in pairs)


# --- full-activation transfer ---------------------------------------------------------------

FACT_BETA = 1.0  # F-ActT weight beta_F (see the module docstring): ours, not tuned


def regressors(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> nn.ModuleList:
    """One 1x1 convolution (no bias) per pair of ``match_groups``, from the student's channels to
    the teacher's, for group outputs shaped like ``student`` and ``teacher``."""
    return nn.ModuleList(nn.Conv2d(student[i].shape[1], teacher[j].shape[1], 1, bias=False)
                         for i, j in match_groups(student, teacher))


def fact_total(student: list[torch.Tensor], teacher: list[torch.Tensor], regs: nn.ModuleList,
               beta: float = FACT_BETA) -> torch.Tensor:
    """beta/2 * sum over the matching groups of mean((r_j(A_S) - A_T)^2) -> scalar."""
    pairs = match_groups(student, teacher)
    if len(pairs) != len(regs):
        raise ValueError(f"{len(regs)} regressors for {len(pairs)} pairs of groups; build them with regressors()")
    return beta / 2 * sum((_wide(r(student[i])) - _wide(teacher[j])).pow(2).mean()
                          for r, (i, j) in zip(regs, pairs))


class WithRegressors(nn.Module):
    """A student and the F-ActT regressors trained with it: one module, so that the training loop
    optimises and checkpoints both. It predicts as the student does; keep ``.student`` afterwards."""

    def __init__(self, student: nn.Module, regs: nn.ModuleList):
        super().__init__()
        self.student, self.regressors = student, regs

    def forward_groups(self, x):
        return self.student.forward_groups(x)

    def forward_head(self, features):
        return self.student.forward_head(features)

    def forward(self, x):
        return self.student(x)

    def no_weight_decay(self) -> set[str]:
        inner = self.student.no_weight_decay() if hasattr(self.student, "no_weight_decay") else set()
        return {f"student.{n}" for n in inner}


# --- knowledge distillation -----------------------------------------------------------------

KD_REDUCTIONS = ("batchmean", "legacy")  # see the module docstring


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
            temperature: float = TEMPERATURE, alpha: float = ALPHA, reduction: str = "batchmean") -> torch.Tensor:
    """alpha * T^2 * KL(p_T || p_S) + (1 - alpha) * CE: logits (N, K), labels (N,) -> scalar.

    ``reduction="batchmean"``: the per-sample KL (official code after July 2018).
    ``reduction="legacy"``: the scale behind the paper's numbers, 2 * mean over N*K (K/2 times smaller).
    """
    student_logits, teacher_logits = _wide(student_logits), _wide(teacher_logits)
    log_p_s = F.log_softmax(student_logits / temperature, dim=1)
    p_t = F.softmax(teacher_logits / temperature, dim=1)
    if reduction == "batchmean":
        kl = F.kl_div(log_p_s, p_t, reduction="batchmean")
    elif reduction == "legacy":
        kl = 2.0 * F.kl_div(log_p_s, p_t, reduction="sum") / log_p_s.numel()  # old default: mean
    else:
        raise ValueError(f"reduction must be one of {', '.join(KD_REDUCTIONS)}, got {reduction!r}")
    return alpha * temperature ** 2 * kl + (1.0 - alpha) * F.cross_entropy(student_logits, labels)


# --- gradient-based attention ---------------------------------------------------------------

def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """J = d CE / dx per sample, and the logits: (N, C, H, W), (N,) -> (N, C, H, W), (N, K).

    The loss is *summed* over the batch so that J[n] is the gradient of sample n's own loss
    (a batch mean would scale every J by 1/N). ``create_graph=True`` keeps the graph so that a
    penalty on J can be trained through (double backprop).
    """
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        logits = model(x)
        loss = F.cross_entropy(_wide(logits), y, reduction="sum")
        (j,) = torch.autograd.grad(loss, x, create_graph=create_graph)
    return j, logits


def gradient_at_loss(j_student: torch.Tensor, j_teacher: torch.Tensor) -> torch.Tensor:
    """mean_n ||J_S[n] - J_T[n]||^2: (N, C, H, W) x 2 -> scalar."""
    return (j_student - j_teacher.detach()).pow(2).flatten(1).sum(1).mean()


def flip_invariance_loss(j: torch.Tensor, j_of_flipped: torch.Tensor) -> torch.Tensor:
    """mean_n ||J(x)[n] - flip(J(flip(x)))[n]||^2 (horizontal flip): (N, C, H, W) x 2 -> scalar."""
    return (j - j_of_flipped.flip(-1)).pow(2).flatten(1).sum(1).mean()


# --- one objective for every method ---------------------------------------------------------

METHODS = ("student", "at", "f-actt", "kd", "at+kd", "grad-at", "flip")  # "student": plain cross-entropy


def transfer_loss(student: nn.Module, teacher: nn.Module | None, x: torch.Tensor, y: torch.Tensor,
                  method: str, beta: float = BETA, grad_beta: float = 1.0, p: float = 2.0,
                  temperature: float = TEMPERATURE, alpha: float = ALPHA,
                  kd_reduction: str = "batchmean", fact_beta: float = FACT_BETA,
                  regs: nn.ModuleList | None = None) -> tuple[torch.Tensor, dict]:
    """The training loss of a student under ``method``: images (N, C, H, W), labels (N,) -> scalar
    and its parts (detached scalars, for logging; no device sync).

    Both networks follow the GroupNet contract (``forward_groups``, ``forward_head``). The teacher
    only ever runs without a graph to its weights: its outputs are constants for the student.
      student  CE                     at      CE + beta * sum_pairs at_loss
      kd       kd_loss                at+kd   kd_loss + beta * sum_pairs at_loss
      f-actt   CE + fact_beta/2 * sum_pairs mean (r_j(A_S) - A_T)^2   (``regs``: see ``regressors``)
      grad-at  CE + grad_beta/2 * gradient_at_loss(J_S, J_T)
      flip     CE + grad_beta/2 * flip_invariance_loss(J(x), J(flip x))   (no teacher)
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if method not in ("student", "flip") and teacher is None:
        raise ValueError(f"method {method!r} needs a teacher")
    if method in ("grad-at", "flip"):
        j_s, logits = input_gradient(student, x, y, create_graph=True)
        ce = F.cross_entropy(_wide(logits), y)
        if method == "grad-at":
            j_t, _ = input_gradient(teacher, x, y)
            penalty = gradient_at_loss(j_s, j_t)
        else:
            j_f, _ = input_gradient(student, x.flip(-1), y, create_graph=True)
            penalty = flip_invariance_loss(j_s, j_f)
        return ce + grad_beta / 2 * penalty, {"ce": ce.detach(), "grad_penalty": penalty.detach()}
    groups = student.forward_groups(x)
    logits = _wide(student.forward_head(groups[-1]))
    if method == "student":
        loss = F.cross_entropy(logits, y)
        return loss, {"ce": loss.detach()}
    with torch.no_grad():
        t_groups = teacher.forward_groups(x)
        t_logits = _wide(teacher.forward_head(t_groups[-1]))
    parts = {}
    if method in ("kd", "at+kd"):
        loss = kd_loss(logits, t_logits, y, temperature, alpha, kd_reduction)
    else:
        loss = F.cross_entropy(logits, y)
    if method in ("at", "at+kd"):
        at_term = at_total(groups, t_groups, beta, p)
        parts["at"] = at_term.detach()
        loss = loss + at_term
    if method == "f-actt":
        if regs is None:
            raise ValueError("method 'f-actt' needs its regressors (regs=regressors(student_groups, teacher_groups))")
        fact_term = fact_total(groups, t_groups, regs, fact_beta)
        parts["f-actt"] = fact_term.detach()
        loss = loss + fact_term
    return loss, parts
