"""The system scaled out on this machine (a 3-node NATS cluster, replicas of every service), its
traffic and its checks: shared by tests/e2e/scale and benchmarks/scale_out.py."""
