"""Label readouts for classification (Diehl & Cook 2015 style).

Neurons are assigned to the class for which their mean spike count on labelled training
data is highest; predictions then pool the activity of each class's neurons.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikerl._checks import check_finite, check_tensor


def _check_counts(spike_counts: object) -> Tensor:
    t = check_tensor("spike_counts", spike_counts)
    if t.dim() != 2:
        raise ValueError(f"spike_counts must be [N samples, n neurons], got shape {list(t.shape)}")
    t = t if t.is_floating_point() else t.to(torch.get_default_dtype())
    check_finite("spike_counts", t)
    if bool((t < 0).any()):
        raise ValueError("spike_counts must be >= 0")
    return t


def _check_n_classes(n_classes: int) -> None:
    if not isinstance(n_classes, int) or isinstance(n_classes, bool) or n_classes < 1:
        raise ValueError(f"n_classes must be an int >= 1, got {n_classes!r}")


def _check_assignments(assignments: object, n_neurons: int, n_classes: int) -> Tensor:
    a = check_tensor("assignments", assignments)
    if a.shape != (n_neurons,) or a.is_floating_point():
        raise ValueError(
            f"assignments must be an integer tensor [n] = [{n_neurons}], got "
            f"{a.dtype} {list(a.shape)}"
        )
    if bool(((a < -1) | (a >= n_classes)).any()):
        raise ValueError(f"assignments must lie in [-1, {n_classes - 1}]")
    return a


def assign_labels(
    spike_counts: Tensor, labels: Tensor, n_classes: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Assign each neuron to the class it fires most for.

    ``rates[i, c]`` is neuron i's mean spike count over the samples of class c (0 for a
    class without samples); ``proportions[i, c] = rates[i, c] / sum_c' rates[i, c']`` (0 for
    a neuron that never fired); ``assignments[i] = argmax_c rates[i, c]``, or -1 for a
    neuron that never fired.

    Args:
        spike_counts: ``[N, n]`` spike counts of n neurons on N samples.
        labels: ``[N]`` integer class labels in ``[0, n_classes)``.
        n_classes: Number of classes.

    Returns:
        ``(assignments [n] int64, proportions [n, n_classes], rates [n, n_classes])``.
    """
    counts = _check_counts(spike_counts)
    _check_n_classes(n_classes)
    y = check_tensor("labels", labels)
    if y.shape != (counts.shape[0],) or y.is_floating_point():
        raise ValueError(
            f"labels must be an integer tensor [N] = [{counts.shape[0]}], "
            f"got {y.dtype} {list(y.shape)}"
        )
    if bool(((y < 0) | (y >= n_classes)).any()):
        raise ValueError(f"labels must lie in [0, {n_classes - 1}]")
    y = y.to(counts.device).long()
    sums = torch.zeros(n_classes, counts.shape[1], dtype=counts.dtype, device=counts.device)
    sums.index_add_(0, y, counts)
    per_class = torch.bincount(y, minlength=n_classes).to(counts.dtype)
    rates = (sums / per_class.clamp_min(1).unsqueeze(1)).T.contiguous()
    total = rates.sum(1, keepdim=True)
    proportions = torch.where(total > 0, rates / total.clamp_min(1e-30), torch.zeros_like(rates))
    assignments = torch.where(
        total.squeeze(1) > 0,
        rates.argmax(1),
        torch.full_like(total.squeeze(1), -1, dtype=torch.long),
    )
    return assignments.long(), proportions, rates


def _class_means(weighted: Tensor, assignments: Tensor, n_classes: int) -> Tensor:
    """``[N, n_classes]``: per class, the sum over its neurons of ``weighted`` / their number."""
    keep = assignments >= 0
    onehot = torch.zeros(weighted.shape[1], n_classes, dtype=weighted.dtype, device=weighted.device)
    onehot[keep.nonzero().flatten(), assignments[keep]] = 1.0
    n_assigned = onehot.sum(0).clamp_min(1.0)
    return (weighted @ onehot) / n_assigned


def all_activity(spike_counts: Tensor, assignments: Tensor, n_classes: int) -> Tensor:
    """Predict the class whose assigned neurons have the highest mean count.

    ``score[s, c] = mean_{i: assignments[i] = c} counts[s, i]`` (0 for a class with no
    neurons); ``pred[s] = argmax_c score[s, c]`` (lowest class on ties).

    Args:
        spike_counts: ``[N, n]`` spike counts.
        assignments: ``[n]`` from :func:`assign_labels` (-1 = unassigned, ignored).
        n_classes: Number of classes.

    Returns:
        Predictions ``[N]`` int64.
    """
    counts = _check_counts(spike_counts)
    _check_n_classes(n_classes)
    a = _check_assignments(assignments, counts.shape[1], n_classes).to(counts.device)
    return _class_means(counts, a, n_classes).argmax(1)


def proportion_weighting(
    spike_counts: Tensor, assignments: Tensor, proportions: Tensor, n_classes: int
) -> Tensor:
    """Like :func:`all_activity` with each count weighted by the neuron's class proportion.

    ``score[s, c] = mean_{i: assignments[i] = c} proportions[i, c] * counts[s, i]``;
    ``pred[s] = argmax_c score[s, c]``.

    Args:
        spike_counts: ``[N, n]`` spike counts.
        assignments: ``[n]`` from :func:`assign_labels`.
        proportions: ``[n, n_classes]`` from :func:`assign_labels`.
        n_classes: Number of classes.

    Returns:
        Predictions ``[N]`` int64.
    """
    counts = _check_counts(spike_counts)
    _check_n_classes(n_classes)
    a = _check_assignments(assignments, counts.shape[1], n_classes).to(counts.device)
    p = check_tensor("proportions", proportions)
    if p.shape != (counts.shape[1], n_classes):
        raise ValueError(
            f"proportions must be [n, n_classes] = [{counts.shape[1]}, {n_classes}], "
            f"got {list(p.shape)}"
        )
    p = p.to(counts.device, counts.dtype)
    # Neuron i contributes proportions[i, a_i] * counts[s, i] to its own class a_i.
    own = torch.where(
        a >= 0,
        p[torch.arange(p.shape[0], device=p.device), a.clamp_min(0)],
        torch.zeros_like(p[:, 0]),
    )
    return _class_means(counts * own, a, n_classes).argmax(1)
