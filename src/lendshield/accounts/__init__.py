"""Staff and borrower accounts: password policy, argon2id, TOTP, sessions, throttling."""
