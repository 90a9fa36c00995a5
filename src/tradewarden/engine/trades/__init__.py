"""Trade management (BRIEF §3.5): trades opened by filled entries, guarded by stop-loss,
target, trailing stop and portfolio limits, closed by exit orders through the pipeline."""
