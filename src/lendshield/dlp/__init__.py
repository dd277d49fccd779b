"""Leak prevention: the PII scanner, redaction, export fingerprints and leak tracing."""
