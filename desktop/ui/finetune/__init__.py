"""The Fine-tuning tab: the dataset builder (examples, validation, statistics, import,
export, drafting from documents)."""
