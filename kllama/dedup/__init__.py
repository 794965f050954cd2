"""Global steps: exact dedup, cc_net line dedup, MinHash LSH near-dup, the Pile reference join."""
