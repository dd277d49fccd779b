"""Loan state mirrored from the lender's loan system (overdue days, assignment, payoff)."""
