"""Support tickets: inquiries, feedback and complaints with their notes and lifecycle."""
