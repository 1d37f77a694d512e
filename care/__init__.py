"""Follow-up that really happens: 129 care tickets, call-backs worked through, survey, reports."""
