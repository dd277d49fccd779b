"""Consent: versioned notices, consents, refusals, withdrawals, legal bases (PIPL Arts. 13-17, 23-31, 39)."""
