"""The gateway suite shares one `helpdesk up` (see `system.py`, also for reusing it elsewhere)."""

from tests.e2e.gateway.system import helpdesk_system

__all__ = ["helpdesk_system"]
