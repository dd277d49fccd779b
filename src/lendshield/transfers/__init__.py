"""Provision to third parties and abroad (PIPL Arts. 21, 23, 38-39): recipients, mechanisms, volumes, exports."""
