"""`python -m tickets`: run the tickets service alone, configured by `HELPDESK_*` env vars."""

from shared.service import run
from tickets.bootstrap import SERVICE

if __name__ == "__main__":
    run(SERVICE)
