"""The REST gateway: FastAPI over Prefect (aura serve)."""
