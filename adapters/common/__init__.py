"""What several adapters share: the table schemas, atomic file writes, play identities,
the per-user song lists. It imports no other adapter package."""
