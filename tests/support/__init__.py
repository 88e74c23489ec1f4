"""Test helpers shared by suites (not tests themselves)."""
