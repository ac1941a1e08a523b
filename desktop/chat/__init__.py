"""Grounded answers: prompt assembly, streaming, citations, conversation history."""
