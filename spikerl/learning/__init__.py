"""spikerl.learning."""
