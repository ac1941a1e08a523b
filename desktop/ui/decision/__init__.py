"""The Decide tab: the checklist, the recommendation, the comparison and the report."""
