"""IFD and token losses from a small model: how a pair becomes scored passes, the embedded
and server scorers, and the on-disk score cache.
"""
