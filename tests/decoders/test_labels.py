"""Label readouts: assignment, all-activity and proportion weighting (golden values)."""

from __future__ import annotations

import pytest
import torch

from spikerl.decoders.labels import all_activity, assign_labels, proportion_weighting


def data() -> tuple[torch.Tensor, torch.Tensor]:
    counts = torch.tensor(
        [
            [5.0, 0.0, 1.0, 0.0],
            [3.0, 0.0, 3.0, 0.0],
            [0.0, 6.0, 2.0, 0.0],
            [0.0, 4.0, 0.0, 0.0],
        ]
    )
    return counts, torch.tensor([0, 0, 1, 1])


def test_assign_labels_golden() -> None:
    counts, labels = data()
    assignments, proportions, rates = assign_labels(counts, labels, 3)
    assert rates.tolist() == [[4.0, 0.0, 0.0], [0.0, 5.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert assignments.tolist() == [0, 1, 0, -1]
    assert torch.allclose(proportions[2], torch.tensor([2 / 3, 1 / 3, 0.0]))
    assert proportions[3].tolist() == [0.0, 0.0, 0.0]


def test_all_activity_and_proportion_weighting() -> None:
    counts, labels = data()
    a, p, _ = assign_labels(counts, labels, 3)
    test = torch.tensor([[0.0, 1.2, 3.0, 9.0], [1.0, 3.0, 0.0, 0.0], [4.0, 0.0, 4.0, 0.0]])
    # all-activity: class 0 = mean(n0, n2), class 1 = n1; n3 unassigned (ignored)
    assert all_activity(test, a, 3).tolist() == [0, 1, 0]
    # proportion weighting: class 0 = (1*n0 + 2/3*n2) / 2, class 1 = 1*n1
    assert proportion_weighting(test, a, p, 3).tolist() == [1, 1, 0]
    assert all_activity(counts, a, 3).tolist() == [0, 0, 1, 1]


def test_label_bad_inputs() -> None:
    counts, labels = data()
    with pytest.raises(ValueError, match=r"\[N samples, n neurons\]"):
        assign_labels(counts[0], labels, 3)
    with pytest.raises(ValueError, match="labels must be"):
        assign_labels(counts, labels[:3], 3)
    with pytest.raises(ValueError, match="labels must lie"):
        assign_labels(counts, torch.tensor([0, 0, 1, 3]), 3)
    with pytest.raises(ValueError, match="n_classes"):
        assign_labels(counts, labels, 0)
    a, p, _ = assign_labels(counts, labels, 3)
    with pytest.raises(ValueError, match="assignments"):
        all_activity(counts, a[:3], 3)
    with pytest.raises(ValueError, match="proportions"):
        proportion_weighting(counts, a, p[:, :2], 3)
