"""The offline writer's parts: the brief's facts, their spoken forms, per-style structures, document summaries."""
