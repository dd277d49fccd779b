"""Financed devices: a closed command set, maker-checker approval, signed commands, the reference agent."""
