"""`python -m chat`: run the chat service alone, configured by `HELPDESK_*` env vars."""

from chat.bootstrap import SERVICE
from shared.service import run

if __name__ == "__main__":
    run(SERVICE)
