"""Layer 6, views: the leaderboard (markdown, terminal, CSV/JSON) and the HTML report."""
