"""Fine-tuning: training examples and datasets, import/export, validation, token and
cost estimates, splitting, drafting examples from library chunks, and the jobs that
train on them. Qt-free. The front door is ``desktop.finetune.service``."""
