"""Orchestration of training runs: one run, seeds in parallel, hyperparameter sweeps.

``spikerl.cli`` parses arguments and calls into this package; nothing here parses argv.

Modules:
    folders: run folder naming and creation (``runs/<env>__<agent>__<seed>__<time>/``).
    train: one training run in a run folder (:func:`spikerl.runs.train.train_run`).
    evaluate: greedy evaluation of a model and episode videos (MP4).
    enjoy: watch a trained agent (``spikerl enjoy``) and the run-folder lookup.
    plot: learning curves of run folders (``spikerl plot``).
    wandb_log: read an offline wandb run back from its ``.wandb`` log.

Ray is imported only by the seed and sweep modules, inside their functions, so that
``import spikerl.runs`` stays light.
"""
