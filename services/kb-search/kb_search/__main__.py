"""`python -m kb_search`: run the kb-search service alone, configured by `HELPDESK_*` env vars."""

from kb_search.bootstrap import SERVICE
from shared.service import run

if __name__ == "__main__":
    run(SERVICE)
