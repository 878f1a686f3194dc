"""The OtelMS Helpdesk shared library: event contracts, settings, logging, auth, errors, NATS helpers.

Nothing here builds a connection, a settings object or a logger at import time; each service's
composition root calls these helpers once per process.
"""
