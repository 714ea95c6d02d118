"""Layer 4, analysis: metrics and statistics as pure functions of stored outcomes."""
