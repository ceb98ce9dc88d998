"""LLM access through litellm: any model string, plus the built-in offline writer."""

import os

# litellm fetches a price map from the internet at import unless told not to;
# offline that costs a timeout on every start.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
