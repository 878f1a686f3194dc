"""What the suites share: waits, process launchers, the nats-server, the persistence under test,
and the harnesses of the services (`pytest_plugins` in tests/conftest.py loads the fixture modules)."""
