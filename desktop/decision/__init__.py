"""The Decide tab's core: evidence measured from the workspace, the nine-question
checklist, the recommendation (RAG, fine-tuning or both) with its reasons and warnings,
the saved decision and its Markdown report. Qt-free, so every rule is unit-tested.
The front door is ``desktop.decision.service``."""
