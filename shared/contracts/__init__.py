"""Public event contracts: the envelope, the subjects, and one pydantic model per event's data.

The stored form of an event inside a service (the eventsourcing library's) is not this public form;
each service's relay maps one onto the other. Breaking changes get a new schema version and a new
subject, published side by side with the old one.
"""
