"""The reply relay: reads reply emails and types their new text into the right session."""
