"""Layer 6, views: the leaderboard (markdown, terminal, CSV/JSON) and the HTML report.

``catalogue`` says how each metric is named and written (one percent and one interval
formatter); ``model`` builds every table once from collected runs (rows, derived baselines,
cells with markers, paper placement, notes), with ``labels`` (rows told apart, threshold
included) and ``verdict`` (who beats both trivial baselines; an oracle run never does).
``leaderboard`` (markdown, terminal, export) and ``report`` (HTML) only lay the model out.
"""
