"""The tickets domain: the `Ticket` aggregate, its rules and its events. Pure: no I/O imports."""
