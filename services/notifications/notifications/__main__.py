"""`python -m notifications`: run the notifications service alone, configured by `HELPDESK_*` env vars."""

from notifications.bootstrap import SERVICE
from shared.service import run

if __name__ == "__main__":
    run(SERVICE)
