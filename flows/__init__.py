"""Prefect flows: the DAG and the deployment entry points."""
