"""Data-subject rights (PIPL Arts. 44-50): requests, identity checks, deadlines in working days, retention."""
