"""The parametrised envelope classes of ticket events are built once per process, not once per event."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from shared.contracts.envelope import EventEnvelope
from shared.contracts.tickets import EVENT_TYPES
from tickets.adapters.relay import PARAMETRISED_ENVELOPES

pytestmark = pytest.mark.unit


def parametrised(model: Any) -> weakref.ref[type]:
    # Inside a function, as the relay, the projector and the breach checker parametrise it: pydantic
    # keeps a class made at a module's top level in that module, one made here only in a weak cache.
    return weakref.ref(EventEnvelope[model])


@pytest.mark.parametrize("model", [Any, *EVENT_TYPES.values()], ids=["Any", *EVENT_TYPES])
def test_an_envelope_class_outlives_the_events_that_used_it(model: Any) -> None:
    made = parametrised(model)
    gc.collect()
    assert made() is not None
    assert made() in PARAMETRISED_ENVELOPES
