"""The Fine-tuning tab: the dataset builder and the job tracker, each a layout of widgets
(``*_layout.py``) and the controllers that give it behaviour, all on the fine-tuning front
door (``desktop.finetune.service``)."""
