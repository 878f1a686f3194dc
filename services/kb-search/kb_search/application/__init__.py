"""Use cases: the editors' commands (publish, update, retire, import), feedback, and the queries."""
