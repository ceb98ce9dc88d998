"""Where a finished video goes next: YouTube (an upload), and a signed webhook that tells a receiver how a run ended.

No Prefect in here: aura.stages.publish runs the upload as a task (a checkpoint, so a video is uploaded once),
and the flow's hooks announce every ending (flows/lifecycle.py).
"""
