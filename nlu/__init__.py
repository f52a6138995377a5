"""Vietnamese language understanding: normalisation, retrieval, message kinds."""
