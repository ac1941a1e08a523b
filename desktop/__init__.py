"""RAGTune: give an LLM knowledge of a domain, and show with evidence whether RAG,
fine-tuning or both is the right tool."""

__version__ = "0.1.0"
APP_NAME = "RAGTune"
APP_ID = "ragtune"
