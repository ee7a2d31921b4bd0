"""Admin screens of this app."""
