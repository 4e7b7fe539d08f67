"""Real-data importers to the shard format: talking-face videos (MediaPipe tracking + an
ARKit solve), Live Link Face takes, FLAME parameter sequences."""
