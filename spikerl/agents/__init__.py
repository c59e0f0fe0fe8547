"""spikerl.agents."""
