"""Entry points of the tickets service: HTTP routers, background workers, the command line."""
