"""Hub access: the client wrapper, raw landing and the local Hub replay server.

Nothing here knows about DuckDB or reports: harvesters end where raw files land.
"""
