"""Insider watch: misuse rules, canary records, alerts."""
