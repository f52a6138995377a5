"""Trợ lý số phường: the application shell (config, storage, channels, conversation engine)."""
