"""Report builders (one module per report), the site that renders them, and the report server.

Reports read the warehouse's marts through a sandboxed read-only connection; they never write to it.
"""
