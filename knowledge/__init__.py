"""The curated knowledge base and its tooling."""
