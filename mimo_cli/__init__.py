"""mimo: ask Xiaomi's MiMo multimodal model about videos from the command line."""

__version__ = "0.1.0"
