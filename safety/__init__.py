"""Safety calls for elderly people living alone: people, schedules, calls, escalation."""
