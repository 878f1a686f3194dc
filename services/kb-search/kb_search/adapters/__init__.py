"""JetStream: the article log (writes) and the follower that feeds this replica's index (reads)."""
