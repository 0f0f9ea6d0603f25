"""What a user's action does: run and replay fits, restarts, data, exports, sessions, views, analyses."""
