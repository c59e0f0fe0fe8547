"""Ready-made tasks behind the ``spikerl`` command (``spikerl mnist``)."""
