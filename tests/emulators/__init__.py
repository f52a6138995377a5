"""Local stand-ins for the Telegram and Zalo Bot APIs, for end-to-end tests and benchmarks."""
