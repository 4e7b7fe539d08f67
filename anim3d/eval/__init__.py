"""Evaluation: metrics (pure functions), baselines, real-speaker, synthetic, stochastic and
emotion-control evaluations, and the Markdown report. Run it with ``anim3d eval``."""
