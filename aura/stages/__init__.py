"""One module per stage: plain functions holding the logic, wrapped in a Prefect task."""
