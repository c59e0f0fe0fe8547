"""spikerl.envs."""
