"""Prefect flows, schedules and the CLI: the wiring of the pipeline's stages, no business logic."""
