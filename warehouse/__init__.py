"""The warehouse: schema and migrations, normalization of raw runs, loading, the catalog and reconciliation.

It reads the raw landing only through ``harvesters.landing`` (its public contract) and never calls the Hub.
"""
