"""LendShield."""
