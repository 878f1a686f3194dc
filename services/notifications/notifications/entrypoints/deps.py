"""What the notifications routes depend on, declared once: the process's components (from
`app.state`, built by the lifespan of the composition root) and the hotel user calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from notifications.application.service import Recipient
from notifications.components import Components, components
from shared.auth import Principal, Role, requires_role

HotelUser = Annotated[Principal, Depends(requires_role(Role.USER))]
Parts = Annotated[Components, Depends(components)]


def recipient_of(principal: Principal) -> Recipient:
    assert principal.account_id is not None  # a user token always carries one (shared.auth)
    return Recipient(account_id=principal.account_id, user_id=principal.sub, name=principal.name)
