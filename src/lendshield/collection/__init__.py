"""The collection guard: masked contact, permitted hours and people, message screening, evidence."""
