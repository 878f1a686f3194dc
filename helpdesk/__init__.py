"""The `helpdesk` command: run the whole system on one machine, run one service, mint dev tokens."""
