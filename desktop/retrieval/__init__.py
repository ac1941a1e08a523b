"""Retrieval: embedding text and finding the chunks nearest to a question."""
