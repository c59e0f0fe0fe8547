"""Plasticity: traces, the STDP family, reward-modulated rules, pieces and teacher forcing.

Rules return weight changes and never write weights; :class:`Plasticity` binds a rule to a
projection (with bounds, decay, normalisation and an optional torch optimizer) and applies
the changes online (every step) or per window. One implementation of each rule serves
dense, sparse, convolutional and locally connected projections through the projections'
``unfold_pre``/``unfold_post``/``fold`` adapters. The R-STDP agent's rule is written out in
:mod:`spikerl.learning.actor` (three-factor update) and :mod:`spikerl.learning.critic`.
"""

from spikerl.learning.activity import (
    Activity,
    Reduction,
    TraceState,
    as_modulation,
    compute_activity,
)
from spikerl.learning.critic import CriticState, TDError, TDLambdaCritic
from spikerl.learning.modulation import Modulator, RewardModulation, RewardPredictionError
from spikerl.learning.pieces import (
    ColumnMean,
    HardBounds,
    Normalize,
    SoftBounds,
    WeightDecay,
    WeightPiece,
)
from spikerl.learning.plasticity import Plasticity
from spikerl.learning.rules import (
    MSTDP,
    MSTDPET,
    DiehlCook2015,
    EligibilityRule,
    Hebbian,
    LearningRule,
    PostPre,
    RuleOutput,
    WeightDependentPostPre,
)
from spikerl.learning.teacher import TeacherForcing, one_hot_mask
from spikerl.learning.traces import TraceMode, TraceParams, decay_matrix, trace_window
from spikerl.learning.window import measure_stdp_window

__all__ = [
    "MSTDP",
    "MSTDPET",
    "Activity",
    "ColumnMean",
    "CriticState",
    "DiehlCook2015",
    "EligibilityRule",
    "HardBounds",
    "Hebbian",
    "LearningRule",
    "Modulator",
    "Normalize",
    "Plasticity",
    "PostPre",
    "Reduction",
    "RewardModulation",
    "RewardPredictionError",
    "RuleOutput",
    "SoftBounds",
    "TDError",
    "TDLambdaCritic",
    "TeacherForcing",
    "TraceMode",
    "TraceParams",
    "TraceState",
    "WeightDecay",
    "WeightDependentPostPre",
    "WeightPiece",
    "as_modulation",
    "compute_activity",
    "decay_matrix",
    "measure_stdp_window",
    "one_hot_mask",
    "trace_window",
]
