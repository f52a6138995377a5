"""Reminders, deadlines, escalations."""
